package fedspark.jobs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The machine's fp32 peak as fedspark's kernels reach it: a tight single-precision matrix product (C = A B, n x n,
 * in memory of its own per thread) on one Java thread per core at once, each thread one BLAS thread, through
 * OpenBLAS's cblas_sgemm (the library nd4j loads) and through oneDNN's dnnl_sgemm (oneDNN's own fp32 kernels, the
 * call the lean dense layers make; the lean step's convolutions use oneDNN's convolution kernels). GFLOP/s = 2 n^3
 * products a second, summed over the threads, after a warm-up. On a busy machine it measures what the machine gives
 * now, not its nominal peak.
 */
@Command(name = "peak", mixinStandardHelpOptions = true,
        description = "The machine's measured fp32 peak: a tight sgemm on every core at once through OpenBLAS and oneDNN.")
final class Peak implements Callable<Integer> {

    @Option(names = "--size", description = "n of the n x n matrices (default: ${DEFAULT-VALUE})")
    int size = 1024;

    @Option(names = "--seconds", description = "timed seconds a kernel (default: ${DEFAULT-VALUE})")
    double seconds = 2;

    @Option(names = "--threads", description = "threads at once (default: the JVM's processors, ${DEFAULT-VALUE})")
    int threads = Runtime.getRuntime().availableProcessors();

    /** The two kernels measured. */
    enum Kernel { OPENBLAS, ONEDNN }

    /** One kernel's measured rate: {@code products} n x n products on {@code threads} threads at {@code gflops} in all. */
    record Measured(Kernel kernel, String detail, int threads, int n, long products, double gflops) {
        String line() {
            return String.format(Locale.ROOT, "fp32 peak, %s sgemm (%s), %d thread(s), n=%d: %.1f GFLOP/s (%d products)",
                    kernel == Kernel.OPENBLAS ? "OpenBLAS" : "oneDNN", detail, threads, n, gflops, products);
        }
    }

    @Override
    public Integer call() {
        if (size < 1 || threads < 1 || !(seconds > 0)) {
            throw new IllegalArgumentException("--size, --threads and --seconds must be positive");
        }
        String warning = threadsWarning();
        if (warning != null) {
            FedSpark.say(warning);
        }
        for (Measured m : measureAll(size, threads, seconds)) {
            FedSpark.say(m.line());
        }
        return 0;
    }

    /** Both kernels, OpenBLAS first; oneDNN's line is left out (with a line saying why) when it cannot run here. */
    static List<Measured> measureAll(int n, int threads, double seconds) {
        List<Measured> all = new ArrayList<>();
        all.add(measure(Kernel.OPENBLAS, n, threads, seconds));
        try {
            all.add(measure(Kernel.ONEDNN, n, threads, seconds));
        } catch (RuntimeException | LinkageError e) {
            FedSpark.say("fp32 peak, oneDNN: not measured (" + e + ")");
        }
        return all;
    }

    /**
     * The best of every measurement, of both kernels, before and after the system timed: on a shared machine the minute
     * changes what a kernel reaches, and a fraction of the lower of two minutes would flatter the system.
     */
    static Measured best(List<Measured> before, List<Measured> after) {
        List<Measured> all = new ArrayList<>(before);
        all.addAll(after);
        return best(all);
    }

    /** The best of the two kernels, the peak the bench's fractions are of. */
    static Measured best(List<Measured> measured) {
        return measured.stream().max(java.util.Comparator.comparingDouble(Measured::gflops)).orElseThrow();
    }

    /** {@code kernel}'s rate on {@code threads} threads at once, each multiplying its own n x n floats for {@code seconds}. */
    static Measured measure(Kernel kernel, int n, int threads, double seconds) {
        String detail = kernel == Kernel.OPENBLAS ? fedspark.engine.local.BlasKernel.name() : oneDnnIsa();
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<double[]>> rates = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                rates.add(pool.submit(() -> oneThread(kernel, n, seconds, seed, start)));
            }
            double gflops = 0;
            long products = 0;
            for (Future<double[]> rate : rates) {
                double[] r = rate.get();
                products += (long) r[0];
                gflops += 2.0 * n * n * n * r[0] / r[1] / 1e9;
            }
            return new Measured(kernel, detail, threads, n, products, gflops);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } finally {
            pool.shutdown();
        }
    }

    /** {products, seconds} of one thread: two warm-up products, then products until {@code seconds} have passed. */
    private static double[] oneThread(Kernel kernel, int n, double seconds, long seed, CyclicBarrier start) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[n * n];
        FloatPointer a = new FloatPointer((long) n * n);
        FloatPointer b = new FloatPointer((long) n * n);
        FloatPointer c = new FloatPointer((long) n * n);
        try {
            for (FloatPointer m : List.of(a, b)) {
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextDouble() - 0.5);
                }
                m.put(values);
            }
            c.put(new float[n * n]);
            product(kernel, n, a, b, c);
            product(kernel, n, a, b, c);
            start.await();
            long began = System.nanoTime();
            long deadline = began + (long) (seconds * 1e9);
            long products = 0;
            long now;
            do {
                product(kernel, n, a, b, c);
                products++;
                now = System.nanoTime();
            } while (now < deadline);
            return new double[] {products, (now - began) / 1e9};
        } finally {
            a.close();
            b.close();
            c.close();
        }
    }

    private static void product(Kernel kernel, int n, FloatPointer a, FloatPointer b, FloatPointer c) {
        if (kernel == Kernel.OPENBLAS) {
            openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasColMajor, openblas_nolapack.CblasNoTrans, openblas_nolapack.CblasNoTrans,
                    n, n, n, 1f, a, n, b, n, 0f, c, n);
        } else {
            int status = org.bytedeco.dnnl.global.dnnl.dnnl_sgemm((byte) 'N', (byte) 'N', n, n, n, 1f, a, n, b, n, 0f, c, n);
            if (status != org.bytedeco.dnnl.global.dnnl.dnnl_success) {
                throw new IllegalStateException("dnnl_sgemm failed (status " + status + ")");
            }
        }
    }

    /** A line when the environment lets one kernel call run several threads (bin/fedspark sets OMP_NUM_THREADS=1), else null. */
    static String threadsWarning() {
        String omp = System.getenv("OMP_NUM_THREADS");
        return "1".equals(omp) ? null : "OMP_NUM_THREADS is " + (omp == null ? "unset" : omp) + ", not 1: a product may run several BLAS"
                + " threads on top of the peak's own (bin/fedspark sets it to 1)";
    }

    /** oneDNN's instruction set here (avx2, avx512_core, ...). */
    private static String oneDnnIsa() {
        int isa = org.bytedeco.dnnl.global.dnnl.dnnl_get_effective_cpu_isa();
        for (org.bytedeco.dnnl.global.dnnl.cpu_isa known : org.bytedeco.dnnl.global.dnnl.cpu_isa.values()) {
            if (known.value == isa) {
                return known.name();
            }
        }
        return "isa " + isa;
    }
}
