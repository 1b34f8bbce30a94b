/** `npm run soak`: 500 prompts in compare mode with random cancellations; prints memory and handles over time. */
import { machine } from "./benchUtil.js";
import { runSoak, slope } from "../testkit/runSoak.js";

const prompts = Number(process.env.SOAK_PROMPTS ?? 500);
console.log(`soak: ${prompts} prompts, compare mode, ~20 % cancelled mid-stream; ${machine()}`);
const r = await runSoak({ prompts, sampleEvery: 50, log: (l) => console.log(l) });
const after = r.samples.slice(1);
const x = after.map((s) => s.prompts);
console.log(`completed ${r.completed}, cancelled ${r.cancelled}, ${r.seconds.toFixed(0)} s`);
console.log(
  `engine RSS trend: ${(
    slope(
      x,
      after.map((s) => s.engineRssMb),
    ) * 100
  ).toFixed(2)} MB per 100 prompts`,
);
console.log(
  `host RSS trend: ${(
    slope(
      x,
      after.map((s) => s.hostRssMb),
    ) * 100
  ).toFixed(2)} MB per 100 prompts`,
);
const first = r.samples[0]!;
const last = r.samples.at(-1)!;
console.log(
  `start: host ${first.hostRssMb.toFixed(1)} MB / ${first.hostHandles} handles, engine ${first.engineRssMb.toFixed(1)} MB / ${first.engineFds} fds`,
);
console.log(
  `end:   host ${last.hostRssMb.toFixed(1)} MB / ${last.hostHandles} handles, engine ${last.engineRssMb.toFixed(1)} MB / ${last.engineFds} fds`,
);
