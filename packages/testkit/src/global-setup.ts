import type { TestProject } from 'vitest/node';
import { RedisServer } from './redis-server.js';

import './provided-context.js';

/**
 * Vitest global setup: one plain redis-server for every test file of a run (tests isolate themselves
 * with randomPrefix). Tests that restart, kill or configure a server start their own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await RedisServer.start();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}
