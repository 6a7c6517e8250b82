// For the benches that measure --wait-replicas: a master with one replica, as ioredis clients of each.

const replicationField = async (client, name) =>
  Number(new RegExp(`${name}:(\\d+)`).exec(await client.info('replication'))?.[1] ?? Number.NaN);

/** Resolves once the replica's link is up and it has applied everything the master sent it so far. */
export async function replicaCaughtUp(masterClient, replicaClient) {
  const deadline = Date.now() + 30_000;
  const target = await replicationField(masterClient, 'master_repl_offset');
  for (;;) {
    const info = await replicaClient.info('replication');
    const applied = Number(/slave_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
    if (info.includes('master_link_status:up') && applied >= target) return;
    if (Date.now() > deadline) throw new Error(`the replica did not catch up: ${info}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** WAIT commands the server ran since its last CONFIG RESETSTAT. */
export async function waitCalls(client) {
  return Number(/cmdstat_wait:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
}
