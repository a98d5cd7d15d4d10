package io.gantry.transport.rest;

import io.javalin.http.Context;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The address a request came from, for the rate limits of callers without credentials. It is the connection's
 * remote address, unless that is a configured trusted proxy: then {@code X-Forwarded-For} is read from the right
 * (each proxy appends the address it received from), skipping trusted proxies, and the first address that is not
 * one of them is the client. Without trusted proxies the header is ignored, since anyone could send it and so pick
 * a fresh rate-limit bucket for every request.
 *
 * <p>Only IP literals are read; a name in the header is never looked up. A hop that is not an IP literal ends the
 * walk: the last trusted hop before it counts as the client.
 */
final class ClientAddresses {

    /** The header proxies add. */
    static final String FORWARDED_FOR = "X-Forwarded-For";

    private final List<Range> trusted;

    /** An address range: a network and the length of its prefix, in bits. */
    private record Range(byte[] network, int prefixBits) {
        boolean contains(InetAddress address) {
            byte[] bytes = address.getAddress();
            if (bytes.length != network.length) {
                return false;
            }
            int fullBytes = prefixBits / 8;
            for (int i = 0; i < fullBytes; i++) {
                if (bytes[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefixBits % 8;
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return rest == 0 || (bytes[fullBytes] & mask) == (network[fullBytes] & mask);
        }
    }

    private ClientAddresses(List<Range> trusted) {
        this.trusted = trusted;
    }

    /** @return addresses that trust no proxy: the connection's remote address is the client */
    static ClientAddresses direct() {
        return new ClientAddresses(List.of());
    }

    /**
     * @param setting the setting's name, for errors
     * @param entries IP addresses ({@code 10.0.0.5}, {@code ::1}) or CIDR ranges ({@code 10.0.0.0/8},
     *                {@code fd00::/8}); blank entries are ignored
     * @throws IllegalArgumentException naming an entry that is neither
     */
    static ClientAddresses trusting(String setting, String... entries) {
        List<Range> ranges = new ArrayList<>();
        for (String entry : entries == null ? new String[0] : entries) {
            for (String item : entry.split(",")) {
                String value = item.strip();
                if (!value.isEmpty()) {
                    ranges.add(range(setting, value));
                }
            }
        }
        return new ClientAddresses(Collections.unmodifiableList(ranges));
    }

    private static Range range(String setting, String value) {
        int slash = value.indexOf('/');
        InetAddress address = literal(slash < 0 ? value : value.substring(0, slash));
        if (address == null) {
            throw new IllegalArgumentException(setting + ": '" + value + "' is not an IP address or CIDR range");
        }
        int bits = address.getAddress().length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(value.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException(setting + ": the prefix length of '" + value
                        + "' must be between 0 and " + bits);
            }
        }
        return new Range(address.getAddress(), prefix);
    }

    /** @return the address, or {@code null} if the text is not an IP literal (never a name lookup) */
    private static InetAddress literal(String text) {
        String value = text.strip();
        if (value.startsWith("[") && value.endsWith("]")) {
            value = value.substring(1, value.length() - 1);
        }
        try {
            return InetAddress.ofLiteral(value);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** @return whether any proxy is trusted */
    boolean trustsProxies() {
        return !trusted.isEmpty();
    }

    /** @return the client's address for a request */
    String of(Context ctx) {
        return resolve(ctx.req().getRemoteAddr(), Collections.list(ctx.req().getHeaders(FORWARDED_FOR)));
    }

    /**
     * @param remote    the connection's remote address
     * @param forwarded the {@code X-Forwarded-For} headers, in the order received
     * @return the client's address
     */
    String resolve(String remote, List<String> forwarded) {
        InetAddress client = literal(remote);
        if (client == null || !trusted(client)) {
            return remote;
        }
        List<String> hops = new ArrayList<>();
        for (String header : forwarded) {
            for (String hop : header.split(",")) {
                hops.add(hop.strip());
            }
        }
        for (int i = hops.size() - 1; i >= 0; i--) {
            InetAddress hop = literal(hops.get(i));
            if (hop == null) {
                break;
            }
            client = hop;
            if (!trusted(hop)) {
                break;
            }
        }
        return client.getHostAddress();
    }

    private boolean trusted(InetAddress address) {
        for (Range range : trusted) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }
}
