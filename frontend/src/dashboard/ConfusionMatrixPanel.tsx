import type { ConfusionMatrix } from "./api";
import { Panel } from "./Panel";
import type { Loaded } from "./useLoad";

const fixed = (value: number | null | undefined, digits = 3) => (value == null ? "—" : value.toFixed(digits));

/** The champion on the frozen reference set: rows are the reference grade, columns the model's; cells shaded by row share. */
export function ConfusionMatrixPanel({ confusion }: { confusion: Loaded<ConfusionMatrix> }) {
  const data = confusion.data;
  return (
    <Panel title="Champion on the reference set" testId="panel-confusion" error={confusion.error} loading={!data}>
      {data && !data.matrix && <p className="muted">No champion with reference metrics yet.</p>}
      {data?.matrix && (
        <>
          <p className="muted">
            {data.model_version}: quadratic kappa {fixed(data.kappa_quadratic)}, accuracy {fixed(data.accuracy)}, binary kappa{" "}
            {fixed(data.binary_kappa)}, n = {data.n} levels
          </p>
          <table className="confusion" data-testid="confusion-matrix">
            <thead>
              <tr>
                <th>reference ↓ / model →</th>
                {data.grades.map((g) => <th key={g}>{g}</th>)}
              </tr>
            </thead>
            <tbody>
              {data.matrix.map((row, truth) => {
                const total = row.reduce((a, b) => a + b, 0) || 1;
                return (
                  <tr key={truth}>
                    <th>{truth}</th>
                    {row.map((count, predicted) => (
                      <td
                        key={predicted}
                        className={truth === predicted ? "diagonal" : undefined}
                        style={{ background: `rgba(99, 179, 237, ${(0.85 * count) / total})` }}
                        title={`${count} of ${total} reference grade ${truth} levels`}
                      >
                        {count}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </Panel>
  );
}
