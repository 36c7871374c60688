/**
 * The one place the project imports TensorFlow.js from.
 *
 * We import the union package `@tensorflow/tfjs` rather than `tfjs-core` because its Node build registers
 * every gradient (tfjs-core's ESM `register_all_gradients` cannot be loaded by Node's ESM resolver), and
 * training needs them. Backends beyond cpu/webgl (wasm, webgpu) are added by the backend selectors.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
