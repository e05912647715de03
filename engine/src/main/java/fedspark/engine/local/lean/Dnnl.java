package fedspark.engine.local.lean;

import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_get_effective_cpu_isa;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nChw16c;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nChw8c;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_set_data_handle;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_relu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_append_eltwise;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_post_ops;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_relu_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

import java.nio.FloatBuffer;

import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_eltwise_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN's C API as the lean layers use it (bytedeco's binding): one CPU engine, memory descriptors, primitives, and
 * calls whose memories point into our direct buffers. oneDNN runs as many threads as OpenMP allows: the launcher and
 * the tests set OMP_NUM_THREADS=1, since Spark already runs one task per core.
 */
final class Dnnl {
    static final dnnl_engine ENGINE = engine();

    private Dnnl() {
    }

    private static dnnl_engine engine() {
        dnnl_engine engine = new dnnl_engine();
        check(dnnl_engine_create(engine, dnnl_cpu, 0), "creating the CPU engine");
        return engine;
    }

    /** The instruction set oneDNN's kernels use here (avx2, avx512_core, ...; DNNL_MAX_CPU_ISA caps it). */
    static String instructionSet() {
        int isa = dnnl_get_effective_cpu_isa();
        for (org.bytedeco.dnnl.global.dnnl.cpu_isa known : org.bytedeco.dnnl.global.dnnl.cpu_isa.values()) {
            if (known.value == isa) {
                return known.name();
            }
        }
        return "isa " + isa;
    }

    static void check(int status, String what) {
        if (status != dnnl_success) {
            throw new IllegalStateException("oneDNN: " + what + " failed (status " + status + ")");
        }
    }

    /**
     * C = alpha op(A) op(B) + beta C, row-major (oneDNN's sgemm): op(A) m x k, op(B) k x n, C m x n; 'N' or 'T'. Its
     * kernels beat OpenBLAS's at the dense layers' shapes, where one side is a minibatch of 10 or 50 rows (docs/benchmarks.md).
     */
    static void sgemm(char transA, char transB, int m, int n, int k, float alpha, FloatBuffer a, int lda, FloatBuffer b, int ldb,
                      float beta, FloatBuffer c, int ldc) {
        check(org.bytedeco.dnnl.global.dnnl.dnnl_sgemm((byte) transA, (byte) transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc),
                "sgemm");
    }

    static dnnl_stream stream() {
        dnnl_stream stream = new dnnl_stream();
        check(dnnl_stream_create(stream, ENGINE, dnnl_stream_default_flags), "creating a stream");
        return stream;
    }

    /** An f32 memory descriptor: {@code tag} a plain layout (nchw, oihw, x) or dnnl_format_tag_any. */
    static dnnl_memory_desc_t desc(int tag, long... dims) {
        dnnl_memory_desc_t desc = new dnnl_memory_desc_t();
        check(dnnl_memory_desc_init_by_tag(desc, dims.length, dims, dnnl_f32, tag), "describing a tensor");
        return desc;
    }

    static dnnl_primitive_desc primitiveDesc(Pointer operation, dnnl_primitive_attr attributes, dnnl_primitive_desc hint, String what) {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(operation), attributes, ENGINE, hint), what);
        return pd;
    }

    static dnnl_primitive primitive(dnnl_primitive_desc pd, String what) {
        dnnl_primitive primitive = new dnnl_primitive();
        check(dnnl_primitive_create(primitive, pd), what);
        return primitive;
    }

    /** The layout a primitive chose for one of its tensors (valid while {@code pd} lives). */
    static dnnl_memory_desc_t query(dnnl_primitive_desc pd, int what) {
        return dnnl_primitive_desc_query_md(pd, what, 0);
    }

    static boolean same(dnnl_memory_desc_t a, dnnl_memory_desc_t b) {
        return dnnl_memory_desc_equal(a, b) == 1;
    }

    /**
     * The format tag of {@code chosen}, a layout of dims (n, c, h, w), where it is nChw16c, nChw8c or nhwc without
     * padding (each example in c * h * w floats, one after the other as in nchw); nchw for any other layout.
     */
    static int sameSizeTag(dnnl_memory_desc_t chosen, long... dims) {
        long plain = floats(desc(dnnl_nchw, dims));
        for (int tag : new int[] {dnnl_nChw16c, dnnl_nChw8c, dnnl_nhwc}) {
            dnnl_memory_desc_t candidate = desc(tag, dims);
            if (same(chosen, candidate) && floats(candidate) == plain) {
                return tag;
            }
        }
        return dnnl_nchw;
    }

    /** The name of a layout {@link #sameSizeTag} gives. */
    static String tagName(int tag) {
        return switch (tag) {
            case dnnl_nchw -> "nchw";
            case dnnl_nChw16c -> "nChw16c";
            case dnnl_nChw8c -> "nChw8c";
            case dnnl_nhwc -> "nhwc";
            default -> "format tag " + tag;
        };
    }

    static long floats(dnnl_memory_desc_t desc) {
        return dnnl_memory_desc_get_size(desc) / Float.BYTES;
    }

    /** A memory without data yet: {@link #point} gives it its buffer before each call. */
    static dnnl_memory memory(dnnl_memory_desc_t desc) {
        dnnl_memory memory = new dnnl_memory();
        check(dnnl_memory_create(memory, desc, ENGINE, (Pointer) null), "creating a memory");
        return memory;
    }

    /** Points {@code memory} at {@code floats} from {@code offset} on. */
    static void point(dnnl_memory memory, FloatBuffer floats, int offset) {
        check(dnnl_memory_set_data_handle(memory, new FloatPointer(floats.slice(offset, floats.capacity() - offset))), "setting a memory's data");
    }

    static void point(dnnl_memory memory, FloatPointer floats) {
        check(dnnl_memory_set_data_handle(memory, floats), "setting a memory's data");
    }

    /** A reorder between two layouts of one tensor. */
    static Call reorder(dnnl_memory_desc_t fromDesc, dnnl_memory from, dnnl_memory_desc_t toDesc, dnnl_memory to) {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(dnnl_reorder_primitive_desc_create(pd, fromDesc, ENGINE, toDesc, ENGINE, null), "describing a reorder");
        return new Call(primitive(pd, "creating a reorder"), "reorder", new int[] {DNNL_ARG_FROM, DNNL_ARG_TO}, from, to);
    }

    /**
     * ReLU's gradient from its output, element by element whatever the layout (the three memories share one):
     * diffSrc = diffDst where dst > 0, else 0; over {@code count} floats.
     */
    static Call reluGradient(long count, dnnl_memory dst, dnnl_memory diffDst, dnnl_memory diffSrc) {
        dnnl_memory_desc_t flat = desc(dnnl_x, count);
        dnnl_eltwise_desc_t forward = new dnnl_eltwise_desc_t();
        check(dnnl_eltwise_forward_desc_init(forward, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, flat, 0f, 0f),
                "describing a ReLU");
        dnnl_primitive_desc hint = primitiveDesc(forward, null, null, "choosing a ReLU");
        dnnl_eltwise_desc_t backward = new dnnl_eltwise_desc_t();
        check(dnnl_eltwise_backward_desc_init(backward, dnnl_eltwise_relu_use_dst_for_bwd, flat, flat, 0f, 0f),
                "describing a ReLU's gradient");
        dnnl_primitive_desc pd = primitiveDesc(backward, null, hint, "choosing a ReLU's gradient");
        return new Call(primitive(pd, "creating a ReLU's gradient"), "ReLU gradient",
                new int[] {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC}, dst, diffDst, diffSrc);
    }

    /** A memory of {@code count} floats in a flat layout, for element-wise work on a tensor held in any layout. */
    static dnnl_memory flatMemory(long count) {
        return memory(desc(dnnl_x, count));
    }

    /** Attributes with one post-op: ReLU on the primitive's result. */
    static dnnl_primitive_attr thenRelu() {
        dnnl_post_ops ops = new dnnl_post_ops();
        check(dnnl_post_ops_create(ops), "creating post-ops");
        check(dnnl_post_ops_append_eltwise(ops, 1f, dnnl_eltwise_relu, 0f, 0f), "appending a ReLU");
        dnnl_primitive_attr attributes = new dnnl_primitive_attr();
        check(dnnl_primitive_attr_create(attributes), "creating attributes");
        check(dnnl_primitive_attr_set_post_ops(attributes, ops), "setting post-ops");
        return attributes;
    }

    /** A primitive with its arguments, ready to run again and again on whatever data its memories point at. */
    static final class Call {
        private final dnnl_primitive primitive;
        private final String what;
        private final dnnl_exec_arg_t arguments;
        private final int count;

        /** {@code kinds[i]} (DNNL_ARG_*) is {@code memories[i]}. */
        Call(dnnl_primitive primitive, String what, int[] kinds, dnnl_memory... memories) {
            this.primitive = primitive;
            this.what = what;
            this.count = kinds.length;
            arguments = new dnnl_exec_arg_t(count);
            for (int i = 0; i < count; i++) {
                arguments.position(i).arg(kinds[i]).memory(memories[i]);
            }
            arguments.position(0);
        }

        void run(dnnl_stream stream) {
            check(dnnl_primitive_execute(primitive, stream, count, arguments), what);
        }
    }
}
