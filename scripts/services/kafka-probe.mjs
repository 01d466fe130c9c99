// Asks a Kafka broker for its cluster metadata (one Metadata v4 request over plain TCP) and prints
//   {"brokers":1,"controller":1,"topics":{"transactions":3,...}}
// Exits 0 only when the broker answers with at least one live broker and a controller, so
// scripts/services/kafka.sh uses it as the health check: no client library, and no JVM start
// per poll (the Kafka CLI tools take seconds each).
//
//   node scripts/services/kafka-probe.mjs 127.0.0.1:19092
import net from "node:net";

const [host, portText] = (process.argv[2] ?? "127.0.0.1:19092").split(":");
const port = Number(portText);
const timeoutMs = 3000;

function request() {
  const clientId = Buffer.from("dataflow-lab-probe");
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api_key: Metadata
  o = body.writeInt16BE(4, o); // api_version 4: non-flexible, supported by Kafka 2.x to 4.x
  o = body.writeInt32BE(1, o); // correlation_id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(-1, o); // topics: null = all topics
  body.writeInt8(0, o); // allow_auto_topic_creation: false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function parse(buf) {
  let o = 0;
  const i8 = () => buf.readInt8((o += 1) - 1);
  const i16 = () => buf.readInt16BE((o += 2) - 2);
  const i32 = () => buf.readInt32BE((o += 4) - 4);
  const str = () => {
    const n = i16();
    if (n < 0) return null;
    const s = buf.toString("utf8", o, o + n);
    o += n;
    return s;
  };
  const array = (item) => Array.from({ length: Math.max(0, i32()) }, item);
  i32(); // correlation_id
  i32(); // throttle_time_ms
  const brokers = array(() => ({ id: i32(), host: str(), port: i32(), rack: str() }));
  str(); // cluster_id
  const controller = i32();
  const topics = {};
  array(() => {
    const error = i16();
    const name = str();
    i8(); // is_internal
    const partitions = array(() => {
      const p = { error: i16(), index: i32(), leader: i32() };
      array(i32); // replica_nodes
      array(i32); // isr_nodes
      return p;
    });
    if (error === 0) topics[name] = partitions.filter((p) => p.error === 0 && p.leader >= 0).length;
  });
  return { brokers: brokers.length, controller, topics };
}

const socket = net.connect({ host, port });
const timer = setTimeout(() => fail(`no answer from ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
let received = Buffer.alloc(0);

function fail(message) {
  console.error(`kafka-probe: ${message}`);
  socket.destroy();
  process.exit(1);
}

socket.on("connect", () => socket.write(request()));
socket.on("error", (err) => fail(`${host}:${port}: ${err.message}`));
socket.on("data", (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
  clearTimeout(timer);
  socket.end();
  let meta;
  try {
    meta = parse(received.subarray(4, 4 + received.readInt32BE(0)));
  } catch (err) {
    fail(`unreadable Metadata response: ${err.message}`);
  }
  console.log(JSON.stringify(meta));
  process.exit(meta.brokers > 0 && meta.controller >= 0 ? 0 : 1);
});
