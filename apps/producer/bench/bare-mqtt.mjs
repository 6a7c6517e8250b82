// The bare baseline of bench/devices.mjs: an MQTT.js subscriber (QoS 1, acknowledged by MQTT.js as each
// message arrives) that XADDs each reading into a single stream through ioredis' auto-pipelining. No
// validation, no partitions, no ledger, no ack-after-write. Usage: node bench/bare-mqtt.mjs <redis-url> <stream> <mqtt-url> <filter>
import { Redis } from 'ioredis';
import { connect } from 'mqtt';

const [url, key, mqttUrl, filter] = process.argv.slice(2);
const redis = new Redis(url, { enableAutoPipelining: true });
const client = connect(mqttUrl, { clientId: `bare-${process.pid}`, clean: true });
client.on('message', (topic, payload) => {
  const device = topic.split('/')[1];
  const value = JSON.parse(payload.toString('utf8'));
  for (const r of Array.isArray(value) ? value : [value])
    redis.xadd(key, '*', 'device', device, 'ts', String(r.ts), 'temp_f', String(r.temp_f));
});
client.on('connect', () => client.subscribe(filter, { qos: 1 }, () => console.log('subscribed')));
