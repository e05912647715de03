package fedspark.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Small whole-file reads and writes on any Hadoop file system. */
public final class HadoopFiles {

    private HadoopFiles() {
    }

    public static boolean exists(Path path, Configuration hadoop) {
        try {
            return path.getFileSystem(hadoop).exists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach " + path, e);
        }
    }

    public static String readString(Path path, Configuration hadoop) {
        return new String(readBytes(path, hadoop), StandardCharsets.UTF_8);
    }

    public static byte[] readBytes(Path path, Configuration hadoop) {
        try {
            FileSystem fs = path.getFileSystem(hadoop);
            if (!fs.exists(path)) {
                throw new BadInputException("missing file: " + path);
            }
            try (FSDataInputStream in = fs.open(path)) {
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }

    /** Writes through a temporary file and a rename, so a reader never sees half a file. */
    public static void writeString(Path path, String text, Configuration hadoop) {
        writeBytes(path, text.getBytes(StandardCharsets.UTF_8), hadoop);
    }

    /** Writes through a temporary file and a rename, so a reader never sees half a file. */
    public static void writeBytes(Path path, byte[] bytes, Configuration hadoop) {
        try {
            FileSystem fs = path.getFileSystem(hadoop);
            Path temporary = new Path(path.getParent(), "." + path.getName() + ".tmp");
            try (FSDataOutputStream out = fs.create(temporary, true)) {
                out.write(bytes);
            }
            fs.delete(path, false);
            if (!fs.rename(temporary, path)) {
                throw new IOException("rename of " + temporary + " to " + path + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path, e);
        }
    }
}
