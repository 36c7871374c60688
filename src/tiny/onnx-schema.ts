/**
 * The part of ONNX's `onnx.proto` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) needed to write a
 * small inference graph, as a protobufjs JSON descriptor. Field names and numbers are the proto's own, so the
 * bytes are an ordinary `ModelProto` that any ONNX runtime reads.
 *
 * Why hand-written: the project makes its tiny test encoders itself (no downloads, no Python `onnx` package),
 * and the full schema is large; these nine messages are all a MatMul/Gather/Relu/ReduceMean graph uses.
 * Unlisted fields (training info, sparse tensors, functions, metadata props) are simply absent.
 */
import protobuf from 'protobufjs';

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });

/** protobufjs descriptor of the ONNX messages we write (proto2 field numbers from onnx.proto, IR v7+). */
export const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opset_import: repeated('OperatorSetIdProto', 8),
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: repeated('TensorProto', 5),
            doc_string: { type: 'string', id: 10 },
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            attribute: repeated('AttributeProto', 5),
            doc_string: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: repeated('float', 7),
            ints: repeated('int64', 8),
            type: { type: 'AttributeType', id: 20 },
          },
          nested: {
            AttributeType: {
              values: { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 },
            },
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            data_type: { type: 'int32', id: 2 },
            float_data: repeated('float', 4),
            int32_data: repeated('int32', 5),
            int64_data: repeated('int64', 7),
            name: { type: 'string', id: 8 },
            raw_data: { type: 'bytes', id: 9 },
            doc_string: { type: 'string', id: 12 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            doc_string: { type: 'string', id: 3 },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: {
            tensor_type: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: { elem_type: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
            },
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: {
                dim_value: { type: 'int64', id: 1 },
                dim_param: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
      },
    },
  },
};

/** `TensorProto.DataType` codes used here. */
export const OnnxDataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;

let modelType: protobuf.Type | null = null;

/** The `onnx.ModelProto` message type (built once from {@link ONNX_SCHEMA}). */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/**
 * Serializes a plain `ModelProto` object (snake_case field names as in onnx.proto) to ONNX bytes; throws if
 * the object does not fit the schema, naming the offending field as protobufjs reports it.
 */
export function encodeModelProto(model: Record<string, unknown>): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new Error(`invalid ONNX ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Parses ONNX bytes back into a plain object (int64 as numbers, bytes as Uint8Array); used by tests. */
export function decodeModelProto(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as Record<string, unknown>;
}
