// Must be the first import of the entry point. zod 4 probes `new Function("")` when an object schema is
// built (at import time of src/protocol) and compiles parsers with it; the panel's CSP has no 'unsafe-eval',
// so the probe would log a CSP violation on every load. `jitless` skips the probe and the compiled fast path;
// validation is the same, only slightly slower on large objects.
import * as z from "zod";

z.config({ jitless: true });
