// ESLint 9 flat config: typescript-eslint's recommended rules and React's two rules of hooks.
// react-hooks 7's `recommended` preset also carries the React Compiler's rules (refs, purity, set-state-in-effect);
// this code is not written for the compiler (it keeps "latest value" refs updated in render), so only the
// classic pair is on: hooks called unconditionally, effect dependencies complete.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "src/generated/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.browser },
    plugins: { "react-hooks": reactHooks },
    rules: { "react-hooks/rules-of-hooks": "error", "react-hooks/exhaustive-deps": "error" },
  },
  { files: ["*.config.{js,ts}"], languageOptions: { globals: globals.node } },
);
