package fedspark.jobs;

import java.util.Locale;
import java.util.concurrent.Callable;

import fedspark.engine.privacy.PldAccountant;
import fedspark.engine.privacy.RdpAccountant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code fedspark privacy}: what a DP-FedAvg setting spends, without Spark, as TensorFlow Privacy's
 * compute_dp_sgd_privacy prints it for DP-SGD: epsilon and the best RDP order after T steps (rounds) of the sampled
 * Gaussian mechanism, or, given a target epsilon, the noise multiplier that spends it; with {@code --accountant pld}
 * the privacy-loss-distribution accountant's epsilon instead (no order).
 */
@Command(name = "privacy", mixinStandardHelpOptions = true,
        description = "Epsilon of T rounds of the Poisson-sampled Gaussian mechanism, add/remove-one neighbouring (RDP accountant "
                + "with Balle et al. 2020's conversion, or the PLD accountant), or the noise multiplier for a target epsilon. No Spark.")
final class PrivacyCommand implements Callable<Integer> {

    @Option(names = "--q", required = true, paramLabel = "Q", description = "sampling probability of a client in a round (train.C)")
    double q;

    @Option(names = "--noise", paramLabel = "Z", description = "noise multiplier z (std of the noise over the clip)")
    Double noise;

    @Option(names = "--steps", required = true, paramLabel = "T", description = "rounds")
    long steps;

    @Option(names = "--delta", defaultValue = "1e-5", paramLabel = "D", description = "delta (default ${DEFAULT-VALUE})")
    double delta;

    @Option(names = "--target-epsilon", paramLabel = "EPS", description = "solve for the noise multiplier that spends EPS")
    Double targetEpsilon;

    @Option(names = "--accountant", defaultValue = "rdp", paramLabel = "A", description = "rdp or pld (default ${DEFAULT-VALUE})")
    String accountant;

    @Override
    public Integer call() {
        if (!accountant.equals("rdp") && !accountant.equals("pld")) {
            throw new IllegalArgumentException("--accountant must be rdp or pld, got '" + accountant + "'");
        }
        if ((noise == null) == (targetEpsilon == null)) {
            throw new IllegalArgumentException("give either --noise or --target-epsilon");
        }
        if (steps < 0) {
            throw new IllegalArgumentException("--steps cannot be negative, got " + steps);
        }
        if (accountant.equals("pld")) {
            double z = noise != null ? noise : PldAccountant.noiseFor(targetEpsilon, delta, q, steps);
            double epsilon = PldAccountant.epsilonOf(q, z, steps, delta);
            if (targetEpsilon != null) {
                FedSpark.say(String.format(Locale.ROOT, "noise multiplier %.6g spends epsilon %.6g of target %s", z, epsilon, targetEpsilon));
            }
            FedSpark.say(String.format(Locale.ROOT, "DP-FedAvg with sampling probability q = %s and noise multiplier z = %.6g over %d rounds "
                    + "satisfies (epsilon = %.6g, delta = %s)-DP (PLD accountant).", q, z, steps, epsilon, delta));
            return 0;
        }
        double z = noise != null ? noise : RdpAccountant.noiseFor(targetEpsilon, delta, q, steps);
        RdpAccountant.Spent spent = new RdpAccountant().compose(q, z, steps).epsilon(delta);
        if (targetEpsilon != null) {
            FedSpark.say(String.format(Locale.ROOT, "noise multiplier %.6g spends epsilon %.6g of target %s", z, spent.epsilon(), targetEpsilon));
        }
        FedSpark.say(String.format(Locale.ROOT, "DP-FedAvg with sampling probability q = %s and noise multiplier z = %.6g over %d rounds "
                + "satisfies (epsilon = %.6g, delta = %s)-DP; the best RDP order is %s.", q, z, steps, spent.epsilon(), delta,
                order(spent.order())));
        double[] orders = RdpAccountant.ORDERS;
        if (spent.order() == orders[0] || spent.order() == orders[orders.length - 1]) {
            FedSpark.say("The best order is at the end of the orders tried (1.25 ... 512): epsilon may be a loose bound.");
        }
        return 0;
    }

    private static String order(double order) {
        return order == Math.rint(order) ? Long.toString((long) order) : Double.toString(order);
    }
}
