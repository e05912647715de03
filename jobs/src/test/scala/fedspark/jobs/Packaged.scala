package fedspark.jobs

import org.scalatest.Tag

/** Tests that run what `mvn package` builds (bin/fedspark's classpath, fedspark.jar): Maven's integration-test phase. */
object Packaged extends Tag("fedspark.Packaged")
