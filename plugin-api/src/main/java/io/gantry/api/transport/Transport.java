package io.gantry.api.transport;

import java.util.List;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A running transport, registered by transport bundles so that the admin API and shell can list where
 * Gantry is reachable. Implementations are thread-safe; their methods return quickly.
 *
 * <p><b>Lifecycle:</b> registered once the transport listens, unregistered when it stops; on
 * deactivation a transport stops accepting, ends or cancels its open requests, and releases its ports.
 */
@ConsumerType
public interface Transport {

    /** @return the transport's kind, e.g. {@code rest} */
    String protocol();

    /** @return the addresses it listens on, e.g. {@code http://0.0.0.0:8080} */
    List<String> endpoints();

    /** @return requests it is handling right now */
    int activeRequests();
}
