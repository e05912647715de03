package fedspark.jobs

import java.io.PrintWriter

import scala.tools.nsc.Settings
import scala.tools.nsc.interpreter.IMain

/** The Scala interpreter a notebook's paragraphs run in, as Scala 2.12's compiler builds it. */
object Repl {
  def apply(settings: Settings, out: PrintWriter): IMain = new IMain(settings, out)
}
