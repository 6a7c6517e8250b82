import {
  type ActiveAlert,
  type AlertTransition,
  activeAlerts,
  decodeAlertTransition,
  type PipelineKeys,
  type RedisClient,
  recentAlerts,
  type StreamEntry,
} from '@pipe/streams';

/** What /api/alerts answers: the alerts firing now (pipe-alerter's state) and the newest transitions. */
export interface AlertsAnswer {
  active: ActiveAlert[];
  recent: AlertTransition[];
}

/** Transitions /api/alerts shows, newest first. */
const RECENT = 20;

export async function alertsAnswer(redis: RedisClient, keys: PipelineKeys): Promise<AlertsAnswer> {
  // The transitions are read before the state (one connection answers in order): a page follows
  // /api/alerts/stream from the newest transition it got, so one written in between reaches it
  // again by the stream, where applying it twice changes nothing. The other order would lose it.
  const [recent, active] = await Promise.all([recentAlerts(redis, keys, RECENT), activeAlerts(redis, keys)]);
  return { active, recent };
}

/** `alert` events of /api/alerts/stream, id = the transition's stream ID (EventSource's Last-Event-ID). */
export function alertEvents(entries: StreamEntry[]) {
  return entries.map(({ id, fields }) => ({
    event: 'alert',
    id,
    data: JSON.stringify(decodeAlertTransition(id, fields)),
  }));
}
