/**
 * A piscina worker: evaluates CV tasks on the training data shared once, at start, through
 * SharedArrayBuffers in workerData.
 */
import { workerData } from 'node:worker_threads';
import { type CvData, type CvTask, evaluateTask } from './cv.js';

const data = workerData as CvData;

export default function run(task: CvTask): number {
  return evaluateTask(data, task);
}
