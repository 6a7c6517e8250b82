#!/usr/bin/env node
// `pnpm acl [--prefix temps]`: prints ACL SETUSER lines giving each service only the commands and keys it
// needs. Passwords come from PIPE_<SERVICE>_PASSWORD (PRODUCER, AGGREGATOR, REAPER, VIEWER), or are
// generated and printed. Run the lines as an admin, then give each service its user in REDIS_URL
// (redis://pipe-aggregator:<password>@host:6379).
import { randomBytes } from 'node:crypto';
import { aclSetUserLine, pipelineAcl } from '@pipe/service';
import { DEFAULT_PREFIX } from '@pipe/streams';

const args = process.argv.slice(2);
const prefixAt = args.indexOf('--prefix');
const prefix = prefixAt >= 0 ? args[prefixAt + 1] : (process.env.STREAM_PREFIX ?? DEFAULT_PREFIX);
if (args.includes('--help') || !prefix) {
  console.log('usage: pnpm acl [--prefix <prefix>]   (passwords: PIPE_PRODUCER_PASSWORD, ... or generated)');
  process.exit(prefix ? 0 : 1);
}
try {
  const lines = Object.entries(pipelineAcl(prefix)).map(([service, acl]) =>
    aclSetUserLine(
      acl,
      process.env[`PIPE_${service.toUpperCase()}_PASSWORD`] ?? randomBytes(18).toString('base64url'),
    ),
  );
  console.log(
    `# pipe users for prefix "${prefix}"; an admin (e.g. +@all ~* &*) runs these, then: ACL SETUSER default off; and loads the scripts: pnpm functions --redis-url <admin url>`,
  );
  for (const line of lines) console.log(line);
} catch (err) {
  console.error(`acl: ${err.message}`);
  process.exit(1);
}
