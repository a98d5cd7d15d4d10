package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The build's PTX holds every kernel the backend launches, with the parameters the host packs. */
class PtxEntriesTest {

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+\\.(\\w+)\\s+\\w+");

    @Test
    void everyArchitectureHoldsEveryKernelWithItsParameters() throws Exception {
        Map<Integer, String> modules;
        try {
            modules = CudaDevice.loadPtx();
        } catch (CudaUnavailableException e) {
            Assumptions.abort("This build has no PTX (nvcc was not found when it ran): " + e.getMessage());
            return;
        }
        assertEquals(CudaDevice.PTX_ARCHITECTURES.size(), modules.size());
        for (Map.Entry<Integer, String> module : modules.entrySet()) {
            String ptx = module.getValue();
            assertTrue(ptx.contains(".target sm_" + module.getKey()), "PTX for compute_" + module.getKey());
            Map<String, List<String>> entries = entries(ptx);
            for (Kernel kernel : Kernel.all()) {
                List<String> params = entries.get(kernel.name());
                assertTrue(params != null, "compute_" + module.getKey() + " PTX lacks kernel " + kernel.name());
                assertEquals(kernel.params().stream().map(Kernel.Param::ptxType).toList(), params,
                        "parameters of " + kernel.name());
            }
            assertEquals(Kernel.all().size(), entries.size(), "kernels in the PTX but unknown to the host: "
                    + entries.keySet());
        }
    }

    private static Map<String, List<String>> entries(String ptx) {
        Map<String, List<String>> entries = new LinkedHashMap<>();
        Matcher entry = ENTRY.matcher(ptx);
        while (entry.find()) {
            Matcher param = PARAM.matcher(entry.group(2));
            List<String> types = new java.util.ArrayList<>();
            while (param.find()) {
                types.add(param.group(1));
            }
            entries.put(entry.group(1), types);
        }
        return entries;
    }
}
