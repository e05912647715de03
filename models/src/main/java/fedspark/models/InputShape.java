package fedspark.models;

import java.io.Serializable;
import java.util.List;

/**
 * The shape of one example as the models see it, stored flat: an image (channels x height x width, flat in that
 * order, as CIFAR stores it), a sequence ({@code width} steps of {@code channels} values, channel after channel), or
 * flat values with no shape. It comes from the source or the configuration (data.shape), never from a guess.
 */
public record InputShape(int height, int width, int channels, Kind kind) implements Serializable {

    /** What the flat values of an example are. */
    public enum Kind { IMAGE, SEQUENCE, FLAT }

    /** MNIST and Fashion-MNIST: 28 x 28 grey images. */
    public static final InputShape MNIST = new InputShape(28, 28, 1);

    public InputShape {
        if (height <= 0 || width <= 0 || channels <= 0) {
            throw new IllegalArgumentException("input shape must be positive, got " + height + "x" + width + "x" + channels);
        }
        if (kind == null || kind != Kind.IMAGE && height != 1 || kind == Kind.FLAT && channels != 1) {
            throw new IllegalArgumentException("not a " + kind + " shape: " + height + "x" + width + "x" + channels);
        }
    }

    /** An image of height x width x channels. */
    public InputShape(int height, int width, int channels) {
        this(height, width, channels, Kind.IMAGE);
    }

    public static InputShape image(int channels, int height, int width) {
        return new InputShape(height, width, channels, Kind.IMAGE);
    }

    /** A sequence of {@code length} steps of {@code channels} values (1: one token index or value a step). */
    public static InputShape sequence(int length, int channels) {
        return new InputShape(1, length, channels, Kind.SEQUENCE);
    }

    /** {@code features} values with no shape: dense models take them, convolutions and recurrent layers do not. */
    public static InputShape flat(int features) {
        return new InputShape(1, features, 1, Kind.FLAT);
    }

    /**
     * From data.shape: [channels, height, width] an image, [length] a sequence of single values, [] flat
     * {@code features} values; the dimensions must multiply to {@code features}.
     */
    public static InputShape of(List<Integer> dims, int features) {
        InputShape shape = switch (dims.size()) {
            case 0 -> flat(features);
            case 1 -> sequence(dims.get(0), 1);
            case 3 -> image(dims.get(0), dims.get(1), dims.get(2));
            default -> throw new IllegalArgumentException("data.shape is [channels, height, width] or [sequence length], got " + dims);
        };
        if (shape.size() != features) {
            throw new IllegalArgumentException("data.shape " + dims + " holds " + shape.size() + " values, the data's examples have " + features);
        }
        return shape;
    }

    /** Length of the flat feature vector. */
    public int size() {
        return height * width * channels;
    }

    /** The shape as data.shape writes it: [3, 32, 32], [80] or [] for flat values. */
    public List<Integer> dims() {
        return switch (kind) {
            case IMAGE -> List.of(channels, height, width);
            case SEQUENCE -> channels == 1 ? List.of(width) : List.of(width, channels);
            case FLAT -> List.of();
        };
    }

    @Override
    public String toString() {
        return switch (kind) {
            case IMAGE -> channels + "x" + height + "x" + width + " images";
            case SEQUENCE -> "sequences of " + width + (channels == 1 ? "" : " steps of " + channels);
            case FLAT -> size() + " values with no shape";
        };
    }

    /**
     * Tests' shorthand: square grey images when {@code features} is a square, else one row. A guess: runs take their
     * shape from the source or data.shape.
     */
    public static InputShape ofFlatSize(int features) {
        int side = (int) Math.round(Math.sqrt(features));
        return side * side == features ? new InputShape(side, side, 1) : new InputShape(1, features, 1);
    }
}
