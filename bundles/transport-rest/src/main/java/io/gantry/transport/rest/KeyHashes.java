package io.gantry.transport.rest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Keys as they are configured: only their SHA-256 hashes ({@code sha256:<64 hex digits>}), so that the
 * configuration never holds a usable key. A presented key is hashed and compared with every configured hash in
 * constant time.
 */
final class KeyHashes {

    private static final String PREFIX = "sha256:";

    private final List<byte[]> hashes;

    private KeyHashes(List<byte[]> hashes) {
        this.hashes = hashes;
    }

    /**
     * @param setting the configuration property, for error messages
     * @param values  each {@code sha256:<hex>}, or several of them separated by commas; blanks are skipped
     * @return the hashes
     * @throws IllegalArgumentException naming the setting when a value is not a SHA-256 hash
     */
    static KeyHashes parse(String setting, String... values) {
        List<byte[]> hashes = new ArrayList<>();
        for (String value : values == null ? new String[0] : values) {
            for (String part : value.split(",")) {
                String hash = part.trim();
                if (hash.isEmpty()) {
                    continue;
                }
                if (!hash.regionMatches(true, 0, PREFIX, 0, PREFIX.length())
                        || !hash.substring(PREFIX.length()).matches("[0-9a-fA-F]{64}")) {
                    // The value is not echoed: it might be a key pasted in by mistake.
                    throw new IllegalArgumentException(setting + " holds a value that is not sha256:<64 hex digits>; "
                            + "make one with: printf %s KEY | sha256sum");
                }
                hashes.add(HexFormat.of().parseHex(hash.substring(PREFIX.length())));
            }
        }
        return new KeyHashes(List.copyOf(hashes));
    }

    boolean isEmpty() {
        return hashes.isEmpty();
    }

    /**
     * @param key a presented key, or {@code null}
     * @return a name for the key that does not reveal it ({@code key:} and the start of its hash), or {@code null}
     *         when it is none of these keys
     */
    String match(String key) {
        if (key == null) {
            return null;
        }
        byte[] presented = sha256(key);
        boolean found = false;
        for (byte[] hash : hashes) {
            // No early exit: every configured hash is compared, each in constant time.
            found |= MessageDigest.isEqual(hash, presented);
        }
        return found ? "key:" + HexFormat.of().formatHex(presented, 0, 6) : null;
    }

    static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java runtime has SHA-256", e);
        }
    }
}
