import { useEffect, useState } from "react";

import { ApiError } from "../api";
import { type TrainingRun, fetchTrainingRuns, retryTraining, startTraining } from "./api";
import { Panel } from "./Panel";
import { useLoad } from "./useLoad";

const POLL_MS = 3000;
const isActive = (run: TrainingRun) => run.status === "queued" || run.status === "running";

function progressText(run: TrainingRun): string {
  const { stage, epoch, epochs, loss, done, total } = run.progress ?? {};
  const parts = [stage ?? run.status];
  if (stage === "load" && done != null && total) parts.push(`${done}/${total} studies`);
  // ml may run more epochs than planned (a minimum number of steps per stage): then the count alone
  if (epoch != null) parts.push(epochs && epoch <= epochs ? `epoch ${epoch}/${epochs}` : `epoch ${epoch}`);
  if (loss != null) parts.push(`loss ${Number(loss).toFixed(3)}`);
  return parts.join(" · ");
}

function progressShare(run: TrainingRun): number {
  if (run.status === "succeeded") return 1;
  const { stage, epoch, epochs, done, total } = run.progress ?? {};
  if (stage === "load" && done != null && total) return done / total;
  return epoch != null && epochs ? Math.min(1, epoch / epochs) : 0;
}

function RunProgress({ run }: { run: TrainingRun }) {
  return (
    <div className="run-progress" data-testid={`run-progress-${run.id}`}>
      <div className="bar"><div style={{ width: `${Math.round(100 * progressShare(run))}%` }} /></div>
      <span>{progressText(run)}</span>
    </div>
  );
}

/** The project's trainings, newest first; polled every few seconds while one is queued or running. */
export function TrainingRunsPanel({ slug, onFinished }: { slug: string; onFinished: () => void }) {
  const [active, setActive] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const runs = useLoad(() => fetchTrainingRuns(slug), [slug], active ? POLL_MS : null);
  const list = runs.data ?? [];
  const anyActive = list.some(isActive);

  useEffect(() => {
    if (active && !anyActive) onFinished(); // a training just ended: registry and charts change
    setActive(anyActive);
  }, [anyActive]); // eslint-disable-line react-hooks/exhaustive-deps

  const act = async (action: () => Promise<TrainingRun>) => {
    setMessage(null);
    try {
      await action();
      runs.reload();
    } catch (caught) {
      setMessage(caught instanceof ApiError ? caught.message : "The training could not be started.");
    }
  };
  const start = (
    <button disabled={anyActive} data-testid="start-training" onClick={() => act(() => startTraining(slug))}>
      Start training
    </button>
  );
  return (
    <Panel title="Training runs" testId="panel-training" error={runs.error} loading={!runs.data} actions={start}>
      {message && <p className="message error" role="alert">{message}</p>}
      <p className="muted" data-testid="training-polling">{anyActive ? `Live: refreshed every ${POLL_MS / 1000} s.` : "No training under way."}</p>
      <div className="scroll">
      <table className="grid-table">
        <thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Labels</th><th>Progress</th><th>Version</th><th /></tr></thead>
        <tbody>
          {list.slice(0, 12).map((run) => (
            <tr key={run.id} data-testid={`run-row-${run.id}`}>
              <td>{run.id}</td>
              <td><span className={`badge ${run.status}`}>{run.status}</span></td>
              <td>{run.trigger}</td>
              <td>{run.labels_used}</td>
              <td>{run.status === "failed" ? <span className="error" title={run.error}>{run.error.slice(0, 60)}</span> : <RunProgress run={run} />}</td>
              <td>{run.model_version ?? ""}</td>
              <td>{run.status === "failed" && !anyActive && <button onClick={() => act(() => retryTraining(slug, run.id))}>Retry</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </Panel>
  );
}
