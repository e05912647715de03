package fedspark.jobs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;

import fedspark.data.BadInputException;

/**
 * Every setting an experiment may name is declared, with its default, in reference.conf; any other key is a
 * mistake (a typo would otherwise be silently ignored and the run would use the default). Free-form blocks
 * ({@code spark.conf}: any Spark setting; {@code sweep.axes} and {@code sweep.reference}: setting keys, which the
 * sweep checks itself; {@code tune.space}, checked by the tune) are exempt.
 */
final class KnownSettings {

    private static final List<String> FREE_FORM = List.of("spark.conf", "sweep.axes", "sweep.reference", "tune.space");
    // Names people reach for that the configuration spells otherwise.
    private static final Map<String, String> ALIASES = Map.of("epochs", "E", "epoch", "E", "local-epochs", "E", "batch-size", "B",
            "learning-rate", "lr", "client-fraction", "C", "fraction", "C", "mu", "fedprox.mu");

    private KnownSettings() {
    }

    /** Throws, naming the first unknown key of {@code user} (keys under fedspark) and the closest known key. */
    static void check(Config user, String source) {
        List<String> known = leaves(ConfigFactory.defaultReference().getObject("fedspark"), "");
        if (!user.root().keySet().stream().allMatch(key -> key.equals("fedspark"))) {
            String other = user.root().keySet().stream().filter(key -> !key.equals("fedspark")).findFirst().orElseThrow();
            throw new BadInputException(source + ": unknown setting '" + other + "' (every setting is inside the fedspark block)");
        }
        if (!user.hasPath("fedspark")) {
            return;
        }
        for (String key : leaves(user.getObject("fedspark"), "")) {
            checkKey(key, known, source);
        }
    }

    /** Throws unless {@code key} (relative to fedspark) is declared. */
    static void checkKey(String key, List<String> known, String source) {
        if (known.contains(key) || FREE_FORM.stream().anyMatch(block -> key.equals(block) || key.startsWith(block + "."))) {
            return;
        }
        throw new BadInputException(source + ": unknown setting '" + key + "'; closest known setting: '" + closest(key, known) + "'");
    }

    static List<String> known() {
        return leaves(ConfigFactory.defaultReference().getObject("fedspark"), "");
    }

    /** The known key most like {@code key}: an alias of its last part, else the smallest edit distance (ignoring case). */
    static String closest(String key, List<String> known) {
        int dot = key.lastIndexOf('.');
        String alias = ALIASES.get(key.substring(dot + 1).toLowerCase(Locale.ROOT));
        if (alias != null) {
            String candidate = key.substring(0, dot + 1) + alias;
            if (known.contains(candidate)) {
                return candidate;
            }
        }
        String best = known.get(0);
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : known) {
            int distance = distance(key.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
            if (distance < bestDistance) {
                best = candidate;
                bestDistance = distance;
            }
        }
        return best;
    }

    private static List<String> leaves(ConfigObject object, String prefix) {
        List<String> keys = new ArrayList<>();
        for (Map.Entry<String, ConfigValue> entry : object.entrySet()) {
            String key = prefix + quoted(entry.getKey());
            if (entry.getValue() instanceof ConfigObject child && !FREE_FORM.contains(key)) {
                keys.addAll(leaves(child, key + "."));
            } else {
                keys.add(entry.getValue() instanceof ConfigObject ? key + "." : key);
            }
        }
        return keys;
    }

    private static String quoted(String part) {
        return part.contains(".") ? "\"" + part + "\"" : part;
    }

    private static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }
}
