package fedspark.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

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

    /** Replaces {@code path} atomically and durably with {@code text} (see {@link #writeBytes}). */
    public static void writeString(Path path, String text, Configuration hadoop) {
        writeBytes(path, text.getBytes(StandardCharsets.UTF_8), hadoop);
    }

    /**
     * Replaces {@code path} atomically and durably: the bytes go to a temporary file beside it, are forced to disk,
     * and the temporary file is renamed over the old one in one step, so a crash at any moment leaves either the old
     * file or the new one, never neither and never half of one. On the local file system through java.nio (fsync of
     * the file and of its folder, an atomic move); elsewhere hsync and FileContext's rename with OVERWRITE (atomic
     * on HDFS).
     */
    public static void writeBytes(Path path, byte[] bytes, Configuration hadoop) {
        try {
            FileSystem fs = path.getFileSystem(hadoop);
            String temporaryName = "." + path.getName() + "." + UUID.randomUUID() + ".tmp";
            if (fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem) {
                java.nio.file.Path target = Paths.get(fs.makeQualified(path).toUri());
                Files.createDirectories(target.getParent());
                java.nio.file.Path temporary = target.resolveSibling(temporaryName);
                try (FileChannel out = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    ByteBuffer buffer = ByteBuffer.wrap(bytes);
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                    out.force(true);
                }
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                // A checksum Hadoop wrote for an earlier version of the file would no longer match it.
                Files.deleteIfExists(target.resolveSibling("." + target.getFileName() + ".crc"));
                try (FileChannel folder = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                    folder.force(true);
                }
                return;
            }
            Path temporary = new Path(path.getParent(), temporaryName);
            try (FSDataOutputStream out = fs.create(temporary, false)) {
                out.write(bytes);
                out.hsync();
            }
            FileContext.getFileContext(fs.getUri(), hadoop).rename(temporary, path, Options.Rename.OVERWRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path, e);
        }
    }

    /**
     * Writes a folder as a whole: {@code write} fills a staging folder beside {@code target}, which is then
     * renamed to {@code target} in one step (atomic on HDFS and on a local disk), so a crash leaves either no
     * {@code target} or a complete one. Staging folders a killed writer left beside {@code target} are removed first.
     * Returns what {@code write} returns.
     */
    public static <T> T writeFolder(Path target, Configuration hadoop, java.util.function.Function<Path, T> write) {
        try {
            FileSystem fs = target.getFileSystem(hadoop);
            Path parent = fs.makeQualified(target).getParent();
            fs.mkdirs(parent);
            // Not a hidden name: Spark warns about reading from a folder whose name starts with '.' or '_'.
            String prefix = target.getName() + ".writing-";
            for (org.apache.hadoop.fs.FileStatus leftover : fs.listStatus(parent, p -> p.getName().startsWith(prefix))) {
                fs.delete(leftover.getPath(), true);
            }
            Path staging = new Path(parent, prefix + UUID.randomUUID());
            T written = write.apply(staging);
            if (!fs.rename(staging, target)) {
                throw new IOException("could not rename " + staging + " to " + target + (fs.exists(target) ? " (it exists)" : ""));
            }
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target, e);
        }
    }
}
