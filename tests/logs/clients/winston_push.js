// Logs through winston + winston-loki to LOKI_URL, then flushes: protobuf + snappy, or
// JSON (with the entry's extra fields as structured metadata) when WINSTON_JSON=1.
"use strict";
const { createLogger } = require("winston");
const LokiTransport = require("winston-loki");

const run = process.env.RUN_ID;
const transport = new LokiTransport({
  host: process.env.LOKI_URL,
  labels: { app: "winston", run },
  json: process.env.WINSTON_JSON === "1",
  batching: true,
  interval: 0.2,
  gracefulShutdown: false,
  onConnectionError: (err) => {
    console.error("push failed:", err && err.message);
    process.exitCode = 2;
  },
});
// winston-loki silently falls back to JSON when the snappy binding is missing.
console.log("content-type=" + transport.batcher.contentType);
const logger = createLogger({ level: "debug", transports: [transport] });

async function main() {
  logger.info("winston says hello", { order: "A-1" });
  logger.warn("winston warns", { labels: { route: "/checkout" } });
  logger.error("winston ünïcode error ✓");
  await transport.flush();
  await transport.close();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
