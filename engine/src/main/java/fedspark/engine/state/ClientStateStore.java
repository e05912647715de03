package fedspark.engine.state;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;

/**
 * Where client state lives: every version a client writes goes to storage under the run folder
 * ({@code client-state/client=<k>/round=<r>.bin}, through a temporary file and a rename) and stays in this
 * executor's memory, so the client's next round on this executor reads no file. A version is the round that wrote
 * it; a client's update of round r reads the version the driver names (the last round the client trained before r),
 * from memory when this JVM wrote it, else from storage: a retried task, a client moved to another executor, an
 * executor that died and a resumed run all read exactly that version, so state is applied once per round.
 */
public final class ClientStateStore {

    private static final int MAGIC = 0x46534353; // "FSCS"
    /** Budget: this fraction of the JVM's maximum heap; the least recently used clients are dropped first (storage has them). */
    static final double HEAP_FRACTION = 0.2;
    private static final ClientStateStore INSTANCE = new ClientStateStore((long) (Runtime.getRuntime().maxMemory() * HEAP_FRACTION));

    private record Version(int round, Map<String, float[]> vectors, long bytes) {
    }

    private final long budgetBytes;
    private final LinkedHashMap<String, Version> cached = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long storageReads;

    ClientStateStore(long budgetBytes) {
        this.budgetBytes = budgetBytes;
    }

    public static ClientStateStore shared() {
        return INSTANCE;
    }

    /** Client {@code client}'s state as version {@code round} left it (version 0: no state yet). */
    public Map<String, float[]> read(String root, int client, int round, Configuration hadoop) {
        if (round == 0) {
            return new TreeMap<>();
        }
        synchronized (this) {
            Version version = cached.get(key(root, client));
            if (version != null && version.round() == round) {
                return copy(version.vectors());
            }
        }
        Path file = file(root, client, round);
        if (!HadoopFiles.exists(file, hadoop)) {
            throw new BadInputException("client " + client + "'s state of round " + round + " is missing: " + file);
        }
        Map<String, float[]> vectors = decode(HadoopFiles.readBytes(file, hadoop), file);
        synchronized (this) {
            storageReads++;
        }
        return vectors;
    }

    /** Writes version {@code round} of a client's state to storage and memory; drops its stored versions older than {@code keepFrom}. */
    public void write(String root, int client, int round, Map<String, float[]> vectors, int keepFrom, Configuration hadoop) {
        HadoopFiles.writeBytes(file(root, client, round), encode(vectors), hadoop);
        prune(root, client, round, keepFrom, hadoop);
        long size = 64;
        for (float[] v : vectors.values()) {
            size += 4L * v.length;
        }
        synchronized (this) {
            Version old = cached.put(key(root, client), new Version(round, copy(vectors), size));
            bytes += size - (old == null ? 0 : old.bytes());
            Iterator<Map.Entry<String, Version>> eldest = cached.entrySet().iterator();
            while (bytes > budgetBytes && eldest.hasNext()) {
                Map.Entry<String, Version> entry = eldest.next();
                if (entry.getKey().equals(key(root, client))) {
                    break;
                }
                bytes -= entry.getValue().bytes();
                eldest.remove();
            }
        }
    }

    /** Versions read from storage rather than memory (a retried task, a moved client, a resumed run). */
    public synchronized long storageReads() {
        return storageReads;
    }

    /** Forgets every client of the run whose state is under {@code root} (storage keeps it). */
    public synchronized void evict(String root) {
        Iterator<Map.Entry<String, Version>> it = cached.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, Version> entry = it.next();
            if (entry.getKey().startsWith(root + "#")) {
                bytes -= entry.getValue().bytes();
                it.remove();
            }
        }
    }

    /** Stored versions older than {@code keepFrom} are no longer needed: no checkpoint or later round reads them. */
    private static void prune(String root, int client, int written, int keepFrom, Configuration hadoop) {
        Path folder = file(root, client, written).getParent();
        try {
            FileSystem fs = folder.getFileSystem(hadoop);
            for (FileStatus status : fs.listStatus(folder)) {
                String name = status.getPath().getName();
                if (name.startsWith("round=") && name.endsWith(".bin")) {
                    int round = Integer.parseInt(name.substring(6, name.length() - 4));
                    if (round < keepFrom && round != written) {
                        fs.delete(status.getPath(), false);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder, e);
        }
    }

    static Path file(String root, int client, int round) {
        return new Path(new Path(root, "client=" + client), "round=" + round + ".bin");
    }

    private static String key(String root, int client) {
        return root + "#" + client;
    }

    private static Map<String, float[]> copy(Map<String, float[]> vectors) {
        Map<String, float[]> copy = new TreeMap<>();
        vectors.forEach((name, values) -> copy.put(name, values.clone()));
        return copy;
    }

    static byte[] encode(Map<String, float[]> vectors) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(vectors.size());
            for (Map.Entry<String, float[]> entry : new TreeMap<>(vectors).entrySet()) {
                out.writeUTF(entry.getKey());
                out.writeInt(entry.getValue().length);
                for (float v : entry.getValue()) {
                    out.writeFloat(v);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static Map<String, float[]> decode(byte[] bytes, Path file) {
        Map<String, float[]> vectors = new TreeMap<>();
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readInt() != MAGIC) {
                throw new BadInputException(file + ": not a fedspark client state file");
            }
            int count = in.readInt();
            for (int i = 0; i < count; i++) {
                String name = in.readUTF();
                float[] values = new float[in.readInt()];
                for (int j = 0; j < values.length; j++) {
                    values[j] = in.readFloat();
                }
                vectors.put(name, values);
            }
            if (in.available() != 0) {
                throw new BadInputException(file + ": " + in.available() + " bytes after the last vector");
            }
        } catch (IOException e) {
            throw new BadInputException(file + ": truncated client state file");
        }
        return vectors;
    }
}
