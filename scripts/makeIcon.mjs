// `node scripts/makeIcon.mjs`: renders media/icon.png, the marketplace icon (256×256 RGBA): a glass prism on a
// dark rounded square, one white beam entering and a spectrum leaving. Drawn here, not downloaded, so its source is
// in the repository; test/unit/package/vsixContents.test.ts checks that the committed file's pixels equal a fresh
// render, so the script and the icon cannot drift apart. Writes the PNG by hand (zlib deflate + CRC-32): no image
// library.
import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

const SIZE = 256;
const SAMPLES = 4; // 4×4 supersampling per pixel: smooth edges

// Geometry in unit coordinates (0..1, y down).
const APEX = [0.5, 0.18];
const LEFT = [0.22, 0.7];
const RIGHT = [0.78, 0.7];
const ENTRY = lerp(APEX, LEFT, 0.5);
const EXIT = lerp(APEX, RIGHT, 0.46);
const BEAM_FROM = [0.02, 0.58];
const SPECTRUM = [
  [255, 85, 85],
  [255, 170, 60],
  [255, 230, 90],
  [90, 220, 120],
  [80, 170, 255],
  [170, 110, 255],
];
// The fan leaving the prism: from EXIT towards the right edge, between these two angles (radians, y down).
const FAN_FROM = 0.12;
const FAN_TO = 0.62;

function lerp(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
}

function cross(o, a, p) {
  return (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]);
}

function inTriangle(p) {
  const s = [cross(APEX, RIGHT, p), cross(RIGHT, LEFT, p), cross(LEFT, APEX, p)];
  return s.every((v) => v >= 0) || s.every((v) => v <= 0);
}

/** Distance from p to segment ab. */
function segmentDistance(p, a, b) {
  const d = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / (d[0] ** 2 + d[1] ** 2)));
  return Math.hypot(p[0] - a[0] - t * d[0], p[1] - a[1] - t * d[1]);
}

function inRoundedSquare([x, y], radius = 0.2) {
  const cx = Math.min(Math.max(x, radius), 1 - radius);
  const cy = Math.min(Math.max(y, radius), 1 - radius);
  return x >= 0 && x <= 1 && y >= 0 && y <= 1 && Math.hypot(x - cx, y - cy) <= radius;
}

/** The colour of one sample point: [r, g, b, a] with channels 0..255 and alpha 0..1. */
function sample(p) {
  if (!inRoundedSquare(p)) return [0, 0, 0, 0];
  // Background: a diagonal navy-to-violet gradient.
  const g = (p[0] + p[1]) / 2;
  let c = [22 + 30 * g, 26 + 8 * g, 52 + 40 * g];
  const over = (col, a) => (c = c.map((v, i) => v * (1 - a) + col[i] * a));
  const inside = inTriangle(p);
  if (!inside && p[0] > EXIT[0]) {
    const angle = Math.atan2(p[1] - EXIT[1], p[0] - EXIT[0]);
    const t = (angle - FAN_FROM) / (FAN_TO - FAN_FROM);
    if (t >= 0 && t < 1) over(SPECTRUM[Math.floor(t * SPECTRUM.length)], 0.95);
  }
  if (!inside && segmentDistance(p, BEAM_FROM, ENTRY) < 0.018) over([255, 255, 255], 1);
  if (inside) {
    over([200, 220, 255], 0.22);
    if (segmentDistance(p, ENTRY, EXIT) < 0.014) over([255, 255, 255], 0.75);
  }
  const edge = Math.min(
    segmentDistance(p, APEX, LEFT),
    segmentDistance(p, LEFT, RIGHT),
    segmentDistance(p, RIGHT, APEX),
  );
  if (edge < 0.012) over([235, 240, 255], 1);
  return [...c, 1];
}

/** The icon's raw scanlines: per row a filter byte (0) and SIZE RGBA pixels, as stored in the PNG's IDAT. */
export function iconPixels() {
  const rows = Buffer.alloc(SIZE * (1 + SIZE * 4));
  for (let y = 0; y < SIZE; y++) {
    const row = y * (1 + SIZE * 4);
    rows[row] = 0; // filter: none
    for (let x = 0; x < SIZE; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < SAMPLES; sy++)
        for (let sx = 0; sx < SAMPLES; sx++) {
          const [r, g, b, a] = sample([(x + (sx + 0.5) / SAMPLES) / SIZE, (y + (sy + 0.5) / SAMPLES) / SIZE]);
          acc[0] += r * a;
          acc[1] += g * a;
          acc[2] += b * a;
          acc[3] += a;
        }
      const alpha = acc[3] / SAMPLES ** 2;
      const px = [0, 1, 2].map((i) => (acc[3] > 0 ? acc[i] / acc[3] : 0));
      rows.set([...px.map(Math.round), Math.round(alpha * 255)], row + 1 + x * 4);
    }
  }
  return rows;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** The icon as PNG bytes. */
export function iconPng() {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIZE, 0);
  header.writeUInt32BE(SIZE, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit, RGBA, deflate, no filter method variants, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(iconPixels(), { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL("../media/icon.png", import.meta.url), iconPng());
  console.log("wrote media/icon.png");
}
