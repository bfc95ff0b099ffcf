#!/usr/bin/env node
// Starts the built CLI. Run `npm run build` (or `npm ci`, which builds) first.
import { main } from '../dist/cli/main.js';

main(process.argv);
