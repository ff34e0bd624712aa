/**
 * Entry point of a campaign worker thread (piscina): runs one task.
 */
import { executeTask, type RunRecord, type RunTask } from './record.js';

export default function run(task: RunTask): Promise<RunRecord> {
  return executeTask(task);
}
