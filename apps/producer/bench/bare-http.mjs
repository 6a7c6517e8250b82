// The bare baseline of bench/devices.mjs: a node:http handler that parses an NDJSON body and pipelines
// one XADD per reading into a single stream, answering once the pipeline's replies are in. No auth, no
// validation, no partitions, no ledger. Usage: node bench/bare-http.mjs <redis-url> <stream> <port>
import { createServer } from 'node:http';
import { Redis } from 'ioredis';

const [url, key, port] = process.argv.slice(2);
const redis = new Redis(url);
createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    const pipeline = redis.pipeline();
    for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      pipeline.xadd(key, '*', 'device', r.device, 'ts', String(r.ts), 'temp_f', String(r.temp_f));
    }
    await pipeline.exec();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}\n');
  });
}).listen(Number(port), '127.0.0.1', () => console.log('listening'));
