/**
 * The marketplace ingestion API as a standalone process (`npm run api`), for producers outside a notebook.
 * Settings come from the environment like the notebooks': Kafka when KAFKA_BOOTSTRAP_SERVERS is set,
 * else the lab's landing folder (DATAFLOW_LAB_HOME/landing). Listens on DATAFLOW_API_HOST:DATAFLOW_API_PORT
 * (default 127.0.0.1:18080; port 0 picks a free one). Ctrl-C / SIGTERM stops it after in-flight
 * requests are answered, so no accepted event is cut off.
 */
import { describeSettings, resolveSettings, startApi } from "../kernel-helpers/src/index.js";

const host = process.env["DATAFLOW_API_HOST"] || "127.0.0.1";
const portText = process.env["DATAFLOW_API_PORT"] || "18080";
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`DATAFLOW_API_PORT must be a port number (0-65535), got "${portText}".`);
  process.exit(2);
}

const settings = resolveSettings();
const api = await startApi({ settings, host, port, logger: process.env["DATAFLOW_API_LOG"] === "1" });
console.log(`ingestion API listening on ${api.url}  (publisher: ${api.publisher.description})`);
for (const line of describeSettings(settings)) console.log(`  ${line}`);
console.log(`  POST ${api.url}/api/v1/transactions | ${api.url}/api/v1/user-interactions   GET ${api.url}/health | ${api.url}/ready`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping; accepted so far ${JSON.stringify(api.stats())}`);
  await api.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
