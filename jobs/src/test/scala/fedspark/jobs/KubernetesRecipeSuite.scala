package fedspark.jobs

import java.io.File
import java.nio.file.Files

import org.scalatest.funsuite.AnyFunSuite

/**
 * The Kubernetes recipe (conf/kubernetes/ and docs/cluster.md's command), checked without Kubernetes or an image
 * registry, neither of which this project's machines have: the image is Spark's official one at the build's versions,
 * and the paths and settings the documented spark-submit names are the image's and the standalone test's.
 */
class KubernetesRecipeSuite extends AnyFunSuite {

  private val repo = Iterator.iterate(new File(".").getCanonicalFile)(_.getParentFile).takeWhile(_ != null)
    .find(d => new File(d, "README.md").isFile && new File(d, "conf").isDirectory).get
  private def read(path: String) = Files.readString(new File(repo, path).toPath)
  private val dockerfile = read("conf/kubernetes/Dockerfile").linesIterator.filterNot(_.trim.startsWith("#")).toList
  private val podTemplate = read("conf/kubernetes/executor-pod.yaml")

  /** docs/cluster.md's Kubernetes spark-submit, its continuation lines joined. */
  private val submit: String = {
    val joined = read("docs/cluster.md").replace("\\\n", " ")
    joined.linesIterator.find(l => l.startsWith("spark-submit") && l.contains("k8s://")).getOrElse(fail("docs/cluster.md has no k8s spark-submit"))
  }

  private def property(name: String) = {
    val pattern = s"<$name>([^<]+)</$name>".r
    pattern.findFirstMatchIn(read("pom.xml")).map(_.group(1)).getOrElse(fail(s"pom.xml has no $name"))
  }

  test("the image is Spark's official one at the build's Spark and Scala versions, on Java 17") {
    val from = dockerfile.find(_.startsWith("FROM ")).getOrElse(fail("no FROM")).stripPrefix("FROM ").trim
    assert(from == s"apache/spark:${property("spark.version")}-scala${property("scala.binary.version")}-java17-ubuntu")
  }

  test("the jar and the experiment file are where the documented command names them") {
    val copies = dockerfile.filter(_.startsWith("COPY ")).map(_.split("\\s+").toList.drop(1)).map(w => w.head -> w(1)).toMap
    assert(copies.get("jobs/target/fedspark.jar").contains("/opt/fedspark/fedspark.jar"), copies)
    assert(submit.contains("local:///opt/fedspark/fedspark.jar train /opt/fedspark/conf/"), submit)
    assert(copies.get("conf/").contains("/opt/fedspark/conf/"), copies)
    val experiment = """/opt/fedspark/conf/(\S+\.conf)""".r.findFirstMatchIn(submit).get.group(1)
    assert(new File(repo, s"conf/$experiment").isFile, s"conf/$experiment")
  }

  test("one BLAS thread a task in the image and the pod template; the pod template the command names exists") {
    assert(dockerfile.contains("ENV OMP_NUM_THREADS=1"))
    assert(podTemplate.contains("- name: OMP_NUM_THREADS\n          value: \"1\""), podTemplate)
    val template = """spark\.kubernetes\.executor\.podTemplateFile=(\S+)""".r.findFirstMatchIn(submit).map(_.group(1))
    assert(template.contains("conf/kubernetes/executor-pod.yaml"), submit)
  }

  test("the command passes the settings StandaloneClusterSuite's spark-submit passes") {
    val standalone = Files.readString(new File(repo, "jobs/src/test/scala/fedspark/jobs/StandaloneClusterSuite.scala").toPath)
    for (setting <- Seq("--class\", \"fedspark.jobs.FedSpark", "spark.executorEnv.OMP_NUM_THREADS=1")) {
      assert(standalone.contains(setting), s"StandaloneClusterSuite no longer passes $setting: update this list")
      assert(submit.contains(setting.replace("\", \"", " ")), s"the Kubernetes command lacks $setting")
    }
  }
}
