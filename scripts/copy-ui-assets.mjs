#!/usr/bin/env node
// Part of `npm run build` (postbuild): tsc compiles src/ to dist/ but leaves other files behind, so
// the web UI's page, styles and browser modules are copied to dist/ui/assets, where the built
// server looks for them (beside itself, as src/ui/assets is beside the source).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/ui/assets', { recursive: true, force: true });
cpSync('src/ui/assets', 'dist/ui/assets', { recursive: true });
