package fedspark.engine.local;

import org.bytedeco.javacpp.Loader;

import com.sun.jna.NativeLibrary;

/**
 * The OpenBLAS kernels this JVM computes with ("Haswell", "SkylakeX", ...): OpenBLAS picks them from the CPU at
 * load, or from OPENBLAS_CORETYPE. Kernels differ in how they order float sums, so two JVMs give bitwise the
 * same models only when they run the same kernels. Asked of OpenBLAS itself (openblas_get_corename, which the
 * bytedeco binding does not map: called through JNA on the library the binding loaded).
 */
public final class BlasKernel {

    private static volatile String name;

    private BlasKernel() {
    }

    public static String name() {
        String known = name;
        if (known == null) {
            known = ask();
            name = known;
        }
        return known;
    }

    private static String ask() {
        try {
            Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
            String path = Loader.getLoadedLibraries().entrySet().stream()
                    .filter(e -> e.getKey().startsWith("openblas_nolapack"))
                    .map(java.util.Map.Entry::getValue).findFirst().orElse(null);
            if (path == null) {
                return "unknown";
            }
            String core = NativeLibrary.getInstance(path).getFunction("openblas_get_corename").invokeString(new Object[0], false);
            return core == null || core.isBlank() ? "unknown" : core.strip();
        } catch (RuntimeException | LinkageError e) {
            return "unknown";
        }
    }
}
