package org.ss2d.interop.arrow;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.util.hash.ArrowBufHasher;
import org.apache.arrow.vector.ExtensionTypeVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * A column of {@link FixedShapeTensorType}: a {@link FixedSizeListVector} whose every value is one
 * tensor. Its field reports the extension type, so IPC writers emit the extension keys.
 */
public final class FixedShapeTensorVector extends ExtensionTypeVector<FixedSizeListVector> {
    private final FieldType fieldType;

    public FixedShapeTensorVector(String name, FieldType fieldType, BufferAllocator allocator, FixedSizeListVector storage) {
        super(name, allocator, storage);
        if (!(fieldType.getType() instanceof FixedShapeTensorType)) {
            throw new IllegalArgumentException("field type must be " + FixedShapeTensorType.EXTENSION_NAME
                    + ", found " + fieldType.getType());
        }
        this.fieldType = fieldType;
    }

    public FixedShapeTensorType tensorType() {
        return (FixedShapeTensorType) fieldType.getType();
    }

    @Override
    public Field getField() {
        return new Field(getName(), fieldType, getUnderlyingVector().getField().getChildren());
    }

    /** The row as a {@code List} of its flat values (Arrow's generic view; not for bulk access). */
    @Override
    public Object getObject(int index) {
        return getUnderlyingVector().getObject(index);
    }

    @Override
    public int hashCode(int index) {
        return getUnderlyingVector().hashCode(index);
    }

    @Override
    public int hashCode(int index, ArrowBufHasher hasher) {
        return getUnderlyingVector().hashCode(index, hasher);
    }
}
