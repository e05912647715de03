package fedspark.engine.logic;

import java.io.Serializable;

import fedspark.engine.aggregate.FixedPointSum;

/**
 * A client's update as the logic layer passes it along, before it leaves the client: dense or sparse values, and its
 * size in bits as the client would encode it (32-bit floats and 32-bit indices unless a transform encodes it more
 * tightly). An update the client computed from its model is exact in the aggregate's fixed point
 * ({@link #modelDelta}), so that transforms that change nothing change no bit of the average.
 */
public final class Update implements Serializable {

    private final int length;
    private final int[] indices; // null: dense
    private final double[] values;
    private final long bits;
    private final boolean modelDelta;

    private Update(int length, int[] indices, double[] values, long bits, boolean modelDelta) {
        this.length = length;
        this.indices = indices;
        this.values = values;
        this.bits = bits;
        this.modelDelta = modelDelta;
    }

    /**
     * y - x for a client that trained from the global model x to y, coordinate by coordinate as the difference of their
     * fixed-point encodings (exact in a double), so that x plus the average of such updates is bit for bit the average
     * of the models.
     */
    public static Update modelDelta(float[] x, float[] y) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = FixedPointSum.fixed(y[i]) - FixedPointSum.fixed(x[i]);
            d[i] /= FixedPointSum.SCALE;
        }
        return new Update(x.length, null, d, 32L * x.length, true);
    }

    /** A vector the client computed as an update already (FedNova's normalised step). */
    public static Update of(float[] vector) {
        double[] d = new double[vector.length];
        for (int i = 0; i < vector.length; i++) {
            d[i] = vector[i];
        }
        return new Update(vector.length, null, d, 32L * vector.length, false);
    }

    /** Dense values of the same kind and length as this update, with their encoded size. */
    public Update dense(double[] newValues, long newBits) {
        if (newValues.length != length) {
            throw new IllegalArgumentException("a dense update of " + length + " values, given " + newValues.length);
        }
        return new Update(length, null, newValues, newBits, modelDelta);
    }

    /** Values at {@code newIndices} only (ascending), the rest zero, with their encoded size. */
    public Update sparse(int[] newIndices, double[] newValues, long newBits) {
        if (newIndices.length != newValues.length) {
            throw new IllegalArgumentException(newIndices.length + " indices for " + newValues.length + " values");
        }
        return new Update(length, newIndices, newValues, newBits, modelDelta);
    }

    /** The same values, encoded in {@code newBits}. */
    public Update withBits(long newBits) {
        return new Update(length, indices, values, newBits, modelDelta);
    }

    /** The same support, new values (a transform that rescales or noises what is sent). */
    public Update withValues(double[] newValues, long newBits) {
        return indices == null ? dense(newValues, newBits) : sparse(indices, newValues, newBits);
    }

    /** The number of coordinates of the full vector. */
    public int length() {
        return length;
    }

    public boolean isSparse() {
        return indices != null;
    }

    /** The coordinates sent (null when dense). Not to be modified. */
    public int[] indices() {
        return indices;
    }

    /** The values sent (all of them when dense, else those at {@link #indices}). Not to be modified. */
    public double[] values() {
        return values;
    }

    /** The number of values sent. */
    public int sent() {
        return values.length;
    }

    public long bits() {
        return bits;
    }

    /** Bytes on the wire: the bits rounded up. */
    public long bytes() {
        return (bits + 7) / 8;
    }

    /** True when this is a model's change from the global model (the server adds the average to the global model). */
    public boolean isModelDelta() {
        return modelDelta;
    }

    /** The full vector, zeros where nothing was sent. */
    public double[] toDense() {
        if (indices == null) {
            return values.clone();
        }
        double[] full = new double[length];
        for (int j = 0; j < indices.length; j++) {
            full[indices[j]] = values[j];
        }
        return full;
    }

    /** The L2 norm of the values sent. */
    public double norm() {
        return norm(values, 0, values.length);
    }

    static double norm(double[] v, int from, int to) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            sum += v[i] * v[i];
        }
        return Math.sqrt(sum);
    }
}
