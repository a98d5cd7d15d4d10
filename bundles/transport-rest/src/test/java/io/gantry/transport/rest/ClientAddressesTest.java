package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Which address a request counts as coming from: X-Forwarded-For only through trusted proxies. */
class ClientAddressesTest {

    private static final ClientAddresses PROXIES = ClientAddresses.trusting("trustedProxies",
            "10.0.0.0/8, 192.168.1.1", "fd00::/8");

    @Test
    void withoutTrustedProxiesTheHeaderIsIgnored() {
        ClientAddresses direct = ClientAddresses.direct();
        assertFalse(direct.trustsProxies());
        assertEquals("10.1.2.3", direct.resolve("10.1.2.3", List.of("203.0.113.9")));
    }

    @Test
    void theHeaderOfAnUntrustedPeerIsIgnored() {
        assertTrue(PROXIES.trustsProxies());
        assertEquals("198.51.100.4", PROXIES.resolve("198.51.100.4", List.of("203.0.113.9")));
        assertEquals("192.168.1.2", PROXIES.resolve("192.168.1.2", List.of("203.0.113.9")));
    }

    @Test
    void theRightmostAddressThatIsNotATrustedProxyIsTheClient() {
        assertEquals("203.0.113.9", PROXIES.resolve("10.0.0.1", List.of("203.0.113.9")));
        assertEquals("203.0.113.9", PROXIES.resolve("10.0.0.1", List.of("1.2.3.4, 203.0.113.9, 10.9.9.9")),
                "what the client wrote in front is not believed; a chain of trusted proxies is skipped");
        assertEquals("203.0.113.9", PROXIES.resolve("10.0.0.1", List.of("1.2.3.4", "203.0.113.9, 192.168.1.1")),
                "several headers read as one list");
        assertEquals("2001:db8:0:0:0:0:0:1", PROXIES.resolve("fd00::1", List.of("2001:db8::1")));
    }

    @Test
    void namesAndGarbageInTheHeaderEndTheWalkAtTheLastTrustedHop() {
        assertEquals("10.0.0.7", PROXIES.resolve("10.0.0.1", List.of("evil.example, 10.0.0.7")),
                "a name is never looked up");
        assertEquals("10.0.0.1", PROXIES.resolve("10.0.0.1", List.of("not an address")));
        assertEquals("10.0.0.1", PROXIES.resolve("10.0.0.1", List.of()));
        assertEquals("10.0.0.2", PROXIES.resolve("10.0.0.1", List.of("10.0.0.2")), "only proxies: the leftmost");
    }

    @Test
    void badSettingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> ClientAddresses.trusting("trustedProxies", "proxy.local")).getMessage()
                .contains("trustedProxies: 'proxy.local'"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> ClientAddresses.trusting("trustedProxies", "10.0.0.0/33")).getMessage()
                .contains("between 0 and 32"));
        assertFalse(ClientAddresses.trusting("trustedProxies", " , ").trustsProxies());
    }
}
