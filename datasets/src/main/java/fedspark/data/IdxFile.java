package fedspark.data;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * One MNIST-format IDX file of unsigned bytes (gzipped or not): the dimensions and the values.
 * Images have magic 0x00000803 (count x rows x columns), labels 0x00000801 (count).
 */
public record IdxFile(String name, int[] dimensions, byte[] values) {

    public static final int IMAGES_MAGIC = 0x00000803;
    public static final int LABELS_MAGIC = 0x00000801;

    /** Reads {@code path}, which must have the given magic number (and so that many dimensions). */
    public static IdxFile read(Path path, int expectedMagic, Configuration hadoop) {
        byte[] bytes = gunzipIfNeeded(path, HadoopFiles.readBytes(path, hadoop));
        if (bytes.length < 4) {
            throw new BadInputException(path + ": truncated IDX file (" + bytes.length + " bytes, no header)");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes); // IDX is big-endian, ByteBuffer's default
        int magic = buffer.getInt();
        if (magic != expectedMagic) {
            throw new BadInputException(String.format("%s: wrong magic number 0x%08X, expected 0x%08X (%s)",
                    path, magic, expectedMagic, expectedMagic == IMAGES_MAGIC ? "IDX images" : "IDX labels"));
        }
        int rank = magic & 0xFF;
        if (bytes.length < 4 + 4 * rank) {
            throw new BadInputException(path + ": truncated IDX header (" + bytes.length + " bytes)");
        }
        int[] dimensions = new int[rank];
        long expected = 1;
        for (int i = 0; i < rank; i++) {
            dimensions[i] = buffer.getInt();
            if (dimensions[i] < 0) {
                throw new BadInputException(path + ": negative dimension " + dimensions[i] + " in the header");
            }
            expected *= dimensions[i];
        }
        if (dimensions[0] == 0) {
            throw new BadInputException(path + ": holds no examples (its header counts 0 items)");
        }
        long present = bytes.length - buffer.position();
        if (present < expected) {
            throw new BadInputException(path + ": truncated IDX file: the header promises " + expected
                    + " values, the file holds " + present);
        }
        if (present > expected) {
            throw new BadInputException(path + ": " + (present - expected) + " bytes after the " + expected + " values the header promises");
        }
        byte[] values = new byte[(int) expected];
        buffer.get(values);
        return new IdxFile(path.toString(), dimensions, values);
    }

    /** Number of items (images or labels): the first dimension. */
    public int count() {
        return dimensions[0];
    }

    /** Values per item: the product of the remaining dimensions. */
    public int itemSize() {
        int size = 1;
        for (int i = 1; i < dimensions.length; i++) {
            size *= dimensions[i];
        }
        return size;
    }

    private static byte[] gunzipIfNeeded(Path path, byte[] bytes) {
        boolean gzipped = bytes.length >= 2 && (bytes[0] & 0xFF) == 0x1F && (bytes[1] & 0xFF) == 0x8B;
        if (!gzipped) {
            return bytes;
        }
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new BadInputException(path + ": corrupt or truncated gzip stream (" + e.getMessage() + ")", e);
        }
    }
}
