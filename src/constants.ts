/** Label value that contributes nothing to the loss (PyTorch's `ignore_index`, the seed's IGNORE_INDEX). */
export const IGNORE_INDEX = -100;
