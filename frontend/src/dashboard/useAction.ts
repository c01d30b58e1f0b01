import { useState } from "react";

import { ApiError } from "../api";

export interface Action {
  busy: boolean;
  /** What the last action did, or why it failed (the API's message). */
  message: string | null;
  run: (done: string, action: () => Promise<unknown>) => Promise<void>;
}

/** One admin action at a time: buttons disable while it runs, then its outcome is shown. */
export function useAction(onDone: () => void, failed = "The action failed."): Action {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const run = async (done: string, action: () => Promise<unknown>) => {
    setBusy(true);
    setMessage(null);
    try {
      await action();
      setMessage(done);
      onDone();
    } catch (caught) {
      setMessage(caught instanceof ApiError ? caught.message : failed);
    } finally {
      setBusy(false);
    }
  };
  return { busy, message, run };
}
