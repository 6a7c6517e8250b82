import {
  type ActiveAlert,
  type AlertTransition,
  activeAlerts,
  type PipelineKeys,
  type RedisClient,
  recentAlerts,
} from '@pipe/streams';

/** What /api/alerts answers: the alerts firing now (pipe-alerter's state) and the newest transitions. */
export interface AlertsAnswer {
  active: ActiveAlert[];
  recent: AlertTransition[];
}

/** Transitions /api/alerts shows, newest first. */
const RECENT = 20;

export async function alertsAnswer(redis: RedisClient, keys: PipelineKeys): Promise<AlertsAnswer> {
  const [active, recent] = await Promise.all([activeAlerts(redis, keys), recentAlerts(redis, keys, RECENT)]);
  return { active, recent };
}
