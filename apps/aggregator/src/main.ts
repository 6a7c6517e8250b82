#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('pipe-aggregator').description('skeleton: filled in by its issue');
program.parse();
