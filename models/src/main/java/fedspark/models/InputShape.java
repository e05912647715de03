package fedspark.models;

import java.io.Serializable;

/** The shape of one example as the models see it: an image of height x width x channels, stored flat. */
public record InputShape(int height, int width, int channels) implements Serializable {

    /** MNIST and Fashion-MNIST: 28 x 28 grey images. */
    public static final InputShape MNIST = new InputShape(28, 28, 1);

    public InputShape {
        if (height <= 0 || width <= 0 || channels <= 0) {
            throw new IllegalArgumentException("input shape must be positive, got " + height + "x" + width + "x" + channels);
        }
    }

    /** Length of the flat feature vector. */
    public int size() {
        return height * width * channels;
    }

    /** The shape whose flat size is {@code features}: square grey images when possible, else one row. */
    public static InputShape ofFlatSize(int features) {
        int side = (int) Math.round(Math.sqrt(features));
        return side * side == features ? new InputShape(side, side, 1) : new InputShape(1, features, 1);
    }
}
