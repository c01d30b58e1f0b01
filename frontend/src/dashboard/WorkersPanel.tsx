import { fetchWorkers } from "./api";
import { Panel } from "./Panel";
import { useLoad } from "./useLoad";

const REFRESH_MS = 15000;

/** Database, broker, Celery workers and the tasks waiting on each queue; refreshed every 15 s. */
export function WorkersPanel() {
  const health = useLoad(fetchWorkers, [], REFRESH_MS);
  const data = health.data;
  return (
    <Panel title="Workers and queues" testId="panel-workers" error={health.error} loading={!data}>
      {data && (
        <>
          <ul className="checks" data-testid="health-checks">
            {(["database", "broker", "worker"] as const).map((name) => (
              <li key={name} className={data.checks[name].ok ? "ok" : "down"} data-testid={`check-${name}`}>
                <strong>{name}</strong> {data.checks[name].ok ? "ok" : "down"} <span className="muted">{data.checks[name].detail}</span>
              </li>
            ))}
          </ul>
          <p className="muted">
            Workers: {data.workers.length ? data.workers.join(", ") : "none answered"} · broker: {data.transport}
          </p>
          <table className="grid-table" data-testid="queue-table">
            <thead><tr><th>Queue</th><th>Tasks waiting</th></tr></thead>
            <tbody>
              {data.queues.map((q) => <tr key={q.name}><td>{q.name}</td><td>{q.waiting}</td></tr>)}
            </tbody>
          </table>
          {data.queue_error && <p className="error">{data.queue_error}</p>}
        </>
      )}
    </Panel>
  );
}
