package fedspark.jobs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import fedspark.data.BadInputException;

/**
 * Every setting an experiment may name is declared, with its default, in reference.conf; any other key is a
 * mistake (a typo would otherwise be silently ignored and the run would use the default). Free-form blocks
 * ({@code spark.conf}: any Spark setting; {@code sweep.axes} and {@code sweep.reference}: setting keys, which the
 * sweep checks itself; {@code tune.space}, checked by the tune; {@code model}, a name, a file or a list of layers that
 * ModelDefinitions reads) are exempt.
 */
final class KnownSettings {

    private static final List<String> FREE_FORM = List.of("spark.conf", "sweep.axes", "sweep.reference", "tune.space", "model");
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

    /**
     * The known key most like {@code key} (ignoring case): the smallest edit distance between last parts first, a known
     * key's last part or a name people reach for that means it ({@code learning-rate} for {@code lr}); among those, the
     * smallest edit distance between whole keys. So {@code train.lerning-rate} finds {@code train.lr}.
     */
    static String closest(String key, List<String> known) {
        String typed = key.toLowerCase(Locale.ROOT);
        String typedLast = lastPart(typed);
        String best = known.get(0);
        int bestLast = Integer.MAX_VALUE;
        int bestWhole = Integer.MAX_VALUE;
        for (String candidate : known) {
            String c = candidate.toLowerCase(Locale.ROOT);
            String last = lastPart(c);
            int lastDistance = distance(typedLast, last);
            for (Map.Entry<String, String> alias : ALIASES.entrySet()) {
                if (alias.getValue().equalsIgnoreCase(last) || c.endsWith("." + alias.getValue().toLowerCase(Locale.ROOT))) {
                    lastDistance = Math.min(lastDistance, distance(typedLast, alias.getKey()));
                }
            }
            int wholeDistance = distance(typed, c);
            if (lastDistance < bestLast || (lastDistance == bestLast && wholeDistance < bestWhole)) {
                best = candidate;
                bestLast = lastDistance;
                bestWhole = wholeDistance;
            }
        }
        return best;
    }

    private static String lastPart(String key) {
        String k = key.endsWith(".") ? key.substring(0, key.length() - 1) : key;
        return k.substring(k.lastIndexOf('.') + 1);
    }

    /** Words a number setting also takes (train.B = inf: the whole local set). */
    private static final Map<String, List<String>> NUMBER_WORDS = Map.of("train.B", List.of("inf"),
            "train.privacy.weight-cap", List.of("inf"));

    /**
     * Throws, naming {@code source}, the key and the type its default has, when {@code key}'s value in the resolved
     * {@code config} (keys under fedspark) cannot be read as that type: a number setting given a word, a list setting
     * given one value, a block given a value. Before any Spark session, so a typo costs no start-up.
     */
    static void checkType(Config config, String key, String source) {
        Config reference = ConfigFactory.defaultReference();
        key = key.endsWith(".") ? key.substring(0, key.length() - 1) : key;
        String path = "fedspark." + key;
        if (!reference.hasPathOrNull(path) || reference.getIsNull(path) || !config.hasPathOrNull(path) || config.getIsNull(path)
                || key.equals("model")) { // a name, a file or a list of layers: ModelDefinitions reads it
            return;
        }
        ConfigValue expected = reference.getValue(path);
        ConfigValue given = config.getValue(path);
        String problem = switch (expected.valueType()) {
            case NUMBER -> given.valueType() == ConfigValueType.NUMBER || isNumber(given)
                    || NUMBER_WORDS.getOrDefault(key, List.of()).contains(String.valueOf(given.unwrapped())) ? null
                    : "a number" + (NUMBER_WORDS.containsKey(key) ? " or " + String.join(", ", NUMBER_WORDS.get(key)) : "");
            case BOOLEAN -> given.valueType() == ConfigValueType.BOOLEAN || isBoolean(given) ? null : "true or false";
            case LIST -> given.valueType() == ConfigValueType.LIST ? null : "a list, e.g. [a, b]";
            case OBJECT -> given.valueType() == ConfigValueType.OBJECT ? null : "a block of settings { ... }";
            default -> given.valueType() == ConfigValueType.LIST || given.valueType() == ConfigValueType.OBJECT ? "one value" : null;
        };
        if (problem != null) {
            throw new BadInputException(source + ": " + key + " takes " + problem + " (its default: " + expected.render() + "), got "
                    + given.render());
        }
    }

    private static boolean isNumber(ConfigValue value) {
        if (value.valueType() != ConfigValueType.STRING) {
            return false;
        }
        try {
            Double.parseDouble(((String) value.unwrapped()).trim());
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean isBoolean(ConfigValue value) {
        return value.valueType() == ConfigValueType.STRING
                && List.of("true", "false", "yes", "no", "on", "off").contains(((String) value.unwrapped()).trim().toLowerCase(Locale.ROOT));
    }

    /** Keys relative to fedspark that {@code user} sets, free-form blocks as one key each. */
    static List<String> keysOf(Config user) {
        return user.hasPath("fedspark") ? leaves(user.getObject("fedspark"), "") : List.of();
    }

    /** One setting as `fedspark settings` lists it: key, default (as HOCON), and the first sentence of its comment in reference.conf. */
    record Setting(String key, String value, String doc) {
    }

    /**
     * Every setting (free-form blocks as one), in reference.conf's order, with its default and its one-line doc from the
     * comments of reference.conf, which document a group of keys once: the comment above the key, else the one above
     * the nearest key before it in its block, else its block's (or the enclosing block's).
     */
    static List<Setting> settings() {
        List<Setting> settings = new ArrayList<>();
        describe(ConfigFactory.defaultReference().getObject("fedspark"), "", List.of(), settings);
        return settings;
    }

    private static void describe(ConfigObject block, String prefix, List<String> blockComment, List<Setting> out) {
        List<Map.Entry<String, ConfigValue>> entries = new ArrayList<>(block.entrySet());
        entries.sort(java.util.Comparator.comparingInt((Map.Entry<String, ConfigValue> e) -> e.getValue().origin().lineNumber())
                .thenComparing(Map.Entry::getKey));
        List<String> above = blockComment;
        for (Map.Entry<String, ConfigValue> entry : entries) {
            String key = prefix + quoted(entry.getKey());
            List<String> own = entry.getValue().origin().comments();
            if (entry.getValue() instanceof ConfigObject child && !FREE_FORM.contains(key)) {
                describe(child, key + ".", own.isEmpty() ? blockComment : own, out); // a block's comment covers its keys, not its siblings'
            } else {
                List<String> comment = own.isEmpty() ? above : own;
                out.add(new Setting(key, entry.getValue().render(ConfigRenderOptions.concise()), oneLine(comment)));
                above = comment;
            }
        }
    }

    /**
     * The first sentence of a comment (its lines joined up to a list: lines indented further); a comment that
     * introduces a list of choices ends with their names: "... : fedavg, fedsgd, ...".
     */
    static String oneLine(List<String> comment) {
        StringBuilder text = new StringBuilder();
        List<String> choices = new ArrayList<>();
        int itemIndent = -1; // a list item: "  name   what it is"; lines indented further continue an item
        for (String raw : comment) {
            String line = raw.startsWith(" ") ? raw.substring(1) : raw;
            int indent = line.length() - line.stripLeading().length();
            if (indent >= 2 && (itemIndent < 0 || indent == itemIndent)) {
                itemIndent = indent;
                choices.add(line.trim().split("\\s{2,}")[0]);
            } else if (itemIndent < 0 && !line.isBlank()) {
                text.append(text.length() == 0 ? "" : " ").append(line.trim());
            }
        }
        String paragraph = text.toString().replaceAll(":$", "");
        String sentence = paragraph;
        int depth = 0; // a '.' or ';' inside parentheses ends no sentence
        for (int i = 0; i < paragraph.length(); i++) {
            char c = paragraph.charAt(i);
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            boolean atEnd = i + 1 == paragraph.length() || Character.isWhitespace(paragraph.charAt(i + 1));
            if (depth <= 0 && (c == '.' || c == ';') && atEnd && !paragraph.substring(0, i + 1).matches("(?s).*\\b(e\\.g|i\\.e|al)\\.$")) {
                sentence = paragraph.substring(0, i).trim();
                break;
            }
        }
        return choices.isEmpty() ? sentence : sentence + ": " + String.join(", ", choices);
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
