// Logs through pino + pino-loki (JSON push with structured metadata) to LOKI_URL.
"use strict";
const pino = require("pino");

const run = process.env.RUN_ID;
const transport = pino.transport({
  target: "pino-loki",
  options: {
    host: process.env.LOKI_URL,
    labels: { app: "pino", run },
    propsToLabels: ["component"],
    // One batch, sent when the transport closes: pino-loki awaits that push on close,
    // whereas an interval push still in flight would be cut off when the worker ends.
    batching: { interval: 60 },
    timeout: 10000,
  },
});
const logger = pino({ level: "debug" }, transport);

logger.info({ component: "api", meta: { trace_id: "abc123", attempt: 2 } }, "pino says hello");
logger.warn({ component: "api" }, "pino warns");
logger.error("pino error line");
// The transport runs in a worker thread; ending it flushes the last batch.
transport.on("close", () => process.exit(process.exitCode || 0));
setTimeout(() => transport.end(), 100);
setTimeout(() => {
  console.error("transport did not close");
  process.exit(3);
}, 15000);
