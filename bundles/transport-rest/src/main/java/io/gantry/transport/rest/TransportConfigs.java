package io.gantry.transport.rest;

import java.lang.reflect.Proxy;
import java.util.Map;

/**
 * {@link RestTransport.Config} as Declarative Services builds it, outside OSGi: the defaults, with some values set.
 */
final class TransportConfigs {

    private TransportConfigs() {
    }

    /**
     * @param values settings by attribute name; every other attribute has its default
     * @return the configuration
     */
    static RestTransport.Config config(Map<String, ?> values) {
        return (RestTransport.Config) Proxy.newProxyInstance(RestTransport.Config.class.getClassLoader(),
                new Class<?>[] {RestTransport.Config.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "annotationType" -> RestTransport.Config.class;
                    case "toString" -> "Config" + values;
                    case "hashCode" -> values.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> values.containsKey(method.getName()) ? values.get(method.getName())
                            : method.getDefaultValue();
                });
    }
}
