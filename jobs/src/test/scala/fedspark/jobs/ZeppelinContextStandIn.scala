package fedspark.jobs

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.sql.Dataset

/**
 * The part of Zeppelin's `z` (ZeppelinContext) that the notes use: `z.show` renders a DataFrame as
 * Zeppelin's %table display text (tab-separated, header first, at most `maxRows` rows).
 */
class ZeppelinContextStandIn(maxRows: Int = 1000) {

  val shown: ArrayBuffer[String] = ArrayBuffer()

  def show(data: Any): Unit = data match {
    case frame: Dataset[_] =>
      val df = frame.toDF()
      val rows = df.take(maxRows + 1)
      val body = rows.take(maxRows).map(_.toSeq.map(v => String.valueOf(v).replace('\t', ' ').replace('\n', ' ')).mkString("\t"))
      val header = "%table " + df.columns.mkString("\t")
      val text = (header +: body.toSeq).mkString("\n") +
        (if (rows.length > maxRows) s"\n<!--TABLE_COMMENT-->\nOutput is truncated to $maxRows rows." else "")
      shown += text
      println(text)
    case other => throw new IllegalArgumentException(s"z.show takes a DataFrame, got ${other.getClass.getName}")
  }
}
