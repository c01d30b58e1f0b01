// The side panel: levels with their grades, the current level's suggestion, grade, ROI and note.
import type { RefObject } from "react";

import type { Draft } from "./useLevelDrafts";
import type { LevelSuggestion, MeasureName, Measurements, Suggestions } from "./readingApi";
import { levelSlug } from "./readingApi";
import { GRADE_NAMES } from "./shortcuts";

interface Props {
  levels: string[];
  current: number;
  drafts: Record<string, Draft>;
  suggestions: Suggestions;
  suggestionByLevel: Record<string, LevelSuggestion>;
  showSuggestions: boolean;
  readOnly: boolean;
  noteRef: RefObject<HTMLTextAreaElement | null>;
  onLevel: (index: number) => void;
  onGrade: (grade: number) => void;
  onNote: (note: string) => void;
  onTakeModelBox: () => void;
  onClearBox: () => void;
  caliperTarget: MeasureName;
  onCaliperTarget: (name: MeasureName) => void;
  onClearMeasure: (name: MeasureName) => void;
}

const MEASURE_NAMES: Record<MeasureName, string> = { canal_ap: "Canal AP", body_ap: "Body AP" };

/** The level's calipers (Ctrl + drag on the CT sagittal measures the chosen one) and Torg-Pavlov. */
function MeasurementLine(props: {
  measurements: Measurements;
  modelCanalMm: number | null; // the model's own canal AP reading, where suggestions may show
  target: MeasureName;
  readOnly: boolean;
  onTarget: (name: MeasureName) => void;
  onClear: (name: MeasureName) => void;
}) {
  const { measurements, target } = props;
  const canal = measurements.canal_ap?.mm;
  const body = measurements.body_ap?.mm;
  return (
    <div className="measurements" data-testid="measurements">
      {(Object.keys(MEASURE_NAMES) as MeasureName[]).map((name) => (
        <p key={name} className="measure">
          <label>
            <input
              type="radio"
              name="caliper-target"
              checked={target === name}
              disabled={props.readOnly}
              onChange={() => props.onTarget(name)}
            />{" "}
            {MEASURE_NAMES[name]}:{" "}
            <span data-testid={`measure-${name}`}>{measurements[name] ? `${measurements[name]!.mm.toFixed(1)} mm` : "—"}</span>
            {name === "canal_ap" && props.modelCanalMm != null && (
              <span className="hint" data-testid="model-canal-ap">
                {" "}
                (model {props.modelCanalMm.toFixed(1)} mm)
              </span>
            )}
          </label>
          {measurements[name] && !props.readOnly && (
            <button className="link" onClick={() => props.onClear(name)} title={`Remove the ${MEASURE_NAMES[name]} caliper`}>
              remove
            </button>
          )}
        </p>
      ))}
      <p className="hint">
        Ctrl + drag on the CT sagittal measures the chosen one (c switches).
        {canal && body ? (
          <>
            {" "}
            Torg-Pavlov <strong data-testid="torg-pavlov">{(canal / body).toFixed(2)}</strong>
          </>
        ) : null}
      </p>
    </div>
  );
}

function SuggestionLine({ suggestions, suggestion, show }: { suggestions: Suggestions; suggestion?: LevelSuggestion; show: boolean }) {
  if (suggestions.blinded) return null; // a blinded case shows nothing, not even that a model exists
  if (!suggestions.model_version) {
    return (
      <p className="suggestion none" data-testid="no-suggestion">
        No model suggestion yet
      </p>
    );
  }
  if (!suggestion) {
    return (
      <p className="suggestion none" data-testid="no-suggestion">
        {suggestions.message || "No model suggestion for this level."}
      </p>
    );
  }
  if (!show) return <p className="suggestion hidden-note">Suggestion hidden (h shows it)</p>;
  return (
    <p className="suggestion" data-testid="suggestion">
      Model {suggestions.model_version}: grade <strong>{suggestion.grade}</strong> ({Math.round(suggestion.confidence * 100)}%
      confidence)
    </p>
  );
}

export function LevelPanel(props: Props) {
  const { levels, current, drafts, suggestions, suggestionByLevel, showSuggestions, readOnly } = props;
  const level = levels[current];
  const draft = drafts[level];
  const suggestion = suggestionByLevel[level];
  const modelBoxes = !suggestions.blinded && Boolean(suggestions.model_version);
  const noBox = modelBoxes ? "none (draw it on the CT sagittal, or a takes the model's box)" : "none (draw it on the CT sagittal)";
  return (
    <>
      <ol className="level-list" data-testid="levels">
        {levels.map((name, k) => {
          const s = suggestionByLevel[name];
          return (
            <li key={name}>
              <button
                className={k === current ? "level current" : "level"}
                data-testid={`level-${levelSlug(name)}`}
                aria-current={k === current ? "true" : undefined}
                onClick={() => props.onLevel(k)}
              >
                <span className="name">{name}</span>
                <span className="grade" data-testid={`grade-${levelSlug(name)}`}>
                  {drafts[name]?.grade ?? "–"}
                </span>
                {showSuggestions && s && <span className="hint">model {s.grade}</span>}
              </button>
            </li>
          );
        })}
      </ol>
      <section className="current-level" data-testid="current-level" data-level={level}>
        <h2>{level}</h2>
        <SuggestionLine suggestions={suggestions} suggestion={suggestion} show={showSuggestions} />
        <div className="grades" role="group" aria-label="Grade">
          {[0, 1, 2, 3].map((grade) => (
            <button
              key={grade}
              className={draft?.grade === grade ? "grade-button chosen" : "grade-button"}
              aria-pressed={draft?.grade === grade}
              title={GRADE_NAMES[grade]}
              disabled={readOnly}
              onClick={() => props.onGrade(grade)}
            >
              {grade}
            </button>
          ))}
        </div>
        <p className="grade-name">{draft?.grade != null ? GRADE_NAMES[draft.grade] : "Not graded yet (0-3)."}</p>
        <p className="roi" data-testid="roi">
          ROI:{" "}
          {draft?.box ? draft.box.map((v) => Math.round(v)).join(", ") : noBox}
        </p>
        <div className="roi-actions">
          {modelBoxes && (
            <button onClick={props.onTakeModelBox} disabled={readOnly || !suggestion?.box || !showSuggestions}>
              Take model box (a)
            </button>
          )}
          <button onClick={props.onClearBox} disabled={readOnly || !draft?.box}>
            Clear ROI (x)
          </button>
        </div>
        <MeasurementLine
          measurements={draft?.measurements ?? {}}
          modelCanalMm={showSuggestions && !suggestions.blinded ? (suggestion?.canal_ap_mm ?? null) : null}
          target={props.caliperTarget}
          readOnly={readOnly}
          onTarget={props.onCaliperTarget}
          onClear={props.onClearMeasure}
        />
        <label className="note">
          Note (n)
          <textarea
            ref={props.noteRef}
            data-testid="note"
            value={draft?.note ?? ""}
            disabled={readOnly}
            rows={3}
            onChange={(event) => props.onNote(event.target.value)}
          />
        </label>
      </section>
    </>
  );
}
