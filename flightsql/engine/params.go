//go:build duckdb_arrow

package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"
)

// bindParams binds row `row` of params to st's placeholders, column i to placeholder
// i+1. A nil params binds nothing; DuckDB then refuses a statement with placeholders.
func bindParams(st bindings.PreparedStatement, params arrow.RecordBatch, row int) error {
	want := int(bindings.NParams(st))
	if params == nil {
		if want > 0 {
			return fmt.Errorf("%w: statement has %d parameters, none given", ErrInvalidSQL, want)
		}
		return nil
	}
	if got := int(params.NumCols()); got != want {
		return fmt.Errorf("%w: statement has %d parameters, %d given", ErrInvalidSQL, want, got)
	}
	if row < 0 || int64(row) >= params.NumRows() {
		return fmt.Errorf("%w: parameter row %d out of range (%d rows)", ErrInvalidSQL, row, params.NumRows())
	}
	for i, col := range params.Columns() {
		if err := bindValue(st, bindings.IdxT(i+1), col, row); err != nil {
			return fmt.Errorf("%w: parameter $%d (%s): %v", ErrInvalidSQL, i+1, col.DataType(), err)
		}
	}
	return nil
}

// bindValue binds arr[row] to placeholder idx with the DuckDB type that matches the
// Arrow type, so no precision is lost before DuckDB casts it to what the statement needs.
func bindValue(st bindings.PreparedStatement, idx bindings.IdxT, arr arrow.Array, row int) error {
	// A column of Arrow's null type has no validity bitmap, so IsNull reports false
	// for it; clients send one for a lone None (ADBC Python does).
	if arr.IsNull(row) || arr.DataType().ID() == arrow.NULL {
		return state(bindings.BindNull(st, idx))
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return state(bindings.BindBoolean(st, idx, a.Value(row)))
	case *array.Int8:
		return state(bindings.BindInt8(st, idx, a.Value(row)))
	case *array.Int16:
		return state(bindings.BindInt16(st, idx, a.Value(row)))
	case *array.Int32:
		return state(bindings.BindInt32(st, idx, a.Value(row)))
	case *array.Int64:
		return state(bindings.BindInt64(st, idx, a.Value(row)))
	case *array.Uint8:
		return state(bindings.BindUInt8(st, idx, a.Value(row)))
	case *array.Uint16:
		return state(bindings.BindUInt16(st, idx, a.Value(row)))
	case *array.Uint32:
		return state(bindings.BindUInt32(st, idx, a.Value(row)))
	case *array.Uint64:
		return state(bindings.BindUInt64(st, idx, a.Value(row)))
	case *array.Float16:
		return state(bindings.BindFloat(st, idx, a.Value(row).Float32()))
	case *array.Float32:
		return state(bindings.BindFloat(st, idx, a.Value(row)))
	case *array.Float64:
		return state(bindings.BindDouble(st, idx, a.Value(row)))
	case *array.String:
		return state(bindings.BindVarchar(st, idx, a.Value(row)))
	case *array.LargeString:
		return state(bindings.BindVarchar(st, idx, a.Value(row)))
	case *array.StringView:
		return state(bindings.BindVarchar(st, idx, a.Value(row)))
	case *array.Binary:
		return state(bindings.BindBlob(st, idx, a.Value(row)))
	case *array.LargeBinary:
		return state(bindings.BindBlob(st, idx, a.Value(row)))
	case *array.BinaryView:
		return state(bindings.BindBlob(st, idx, a.Value(row)))
	case *array.FixedSizeBinary:
		return state(bindings.BindBlob(st, idx, a.Value(row)))
	case *array.Date32:
		return state(bindings.BindDate(st, idx, bindings.NewDate(int32(a.Value(row)))))
	case *array.Date64:
		return state(bindings.BindDate(st, idx, bindings.NewDate(int32(floorDiv(int64(a.Value(row)), 86_400_000)))))
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return state(bindings.BindTime(st, idx, bindings.NewTime(toMicros(int64(a.Value(row)), unit))))
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		if unit == arrow.Nanosecond {
			// DuckDB's TIME_NS keeps the nanoseconds TIME would cut.
			val := bindings.CreateTimeNS(bindings.NewTimeNS(int64(a.Value(row))))
			defer bindings.DestroyValue(&val)
			return state(bindings.BindValue(st, idx, val))
		}
		return state(bindings.BindTime(st, idx, bindings.NewTime(toMicros(int64(a.Value(row)), unit))))
	case *array.Timestamp:
		return bindTimestamp(st, idx, a.DataType().(*arrow.TimestampType), int64(a.Value(row)))
	case *array.Decimal128:
		dt := a.DataType().(*arrow.Decimal128Type)
		if dt.Precision > 38 || dt.Scale < 0 || dt.Scale > dt.Precision {
			return fmt.Errorf("decimal(%d,%d) does not fit DuckDB's DECIMAL(38)", dt.Precision, dt.Scale)
		}
		v := a.Value(row)
		d := bindings.NewDecimal(uint8(dt.Precision), uint8(dt.Scale), bindings.NewHugeInt(v.LowBits(), v.HighBits()))
		return state(bindings.BindDecimal(st, idx, d))
	case *array.Decimal256:
		dt := a.DataType().(*arrow.Decimal256Type)
		if dt.Precision > 38 || dt.Scale < 0 || dt.Scale > dt.Precision {
			return fmt.Errorf("decimal256(%d,%d) does not fit DuckDB's DECIMAL(38)", dt.Precision, dt.Scale)
		}
		// At most 38 digits: the value is its low 128 bits, sign included.
		w := a.Value(row).Array()
		d := bindings.NewDecimal(uint8(dt.Precision), uint8(dt.Scale), bindings.NewHugeInt(w[0], int64(w[1])))
		return state(bindings.BindDecimal(st, idx, d))
	case *array.MonthDayNanoInterval:
		v := a.Value(row)
		return state(bindings.BindInterval(st, idx, bindings.NewInterval(v.Months, v.Days, v.Nanoseconds/1000)))
	case *array.MonthInterval:
		return state(bindings.BindInterval(st, idx, bindings.NewInterval(int32(a.Value(row)), 0, 0)))
	case *array.DayTimeInterval:
		v := a.Value(row)
		return state(bindings.BindInterval(st, idx, bindings.NewInterval(0, v.Days, int64(v.Milliseconds)*1000)))
	case *array.Duration:
		// A stored duration column reads in SQL as its BIGINT count of units
		// (catalog's storedtypes.go); a duration parameter binds the same way, so it
		// compares with such a column.
		return state(bindings.BindInt64(st, idx, int64(a.Value(row))))
	case *array.Dictionary:
		return bindValue(st, idx, a.Dictionary(), a.GetValueIndex(row))
	// A union column lets each row carry a value of its own type: flightsql-dbapi
	// (the SQLAlchemy dialect Superset uses) sends every parameter as a dense union of
	// int64, float64, utf8, binary and bool. The row's value is bound with its type.
	case *array.DenseUnion:
		return bindValue(st, idx, a.Field(a.ChildID(row)), int(a.ValueOffset(row)))
	case *array.SparseUnion:
		return bindValue(st, idx, a.Field(a.ChildID(row)), row)
	}
	return fmt.Errorf("arrow type %s is not supported as a parameter", arr.DataType())
}

// bindTimestamp keeps nanoseconds as TIMESTAMP_NS, and a zone-aware Arrow timestamp
// (absolute instant) as TIMESTAMPTZ.
func bindTimestamp(st bindings.PreparedStatement, idx bindings.IdxT, dt *arrow.TimestampType, v int64) error {
	if dt.TimeZone != "" {
		return state(bindings.BindTimestampTZ(st, idx, bindings.NewTimestamp(toMicros(v, dt.Unit))))
	}
	if dt.Unit == arrow.Nanosecond {
		val := bindings.CreateTimestampNS(bindings.NewTimestampNS(v))
		defer bindings.DestroyValue(&val)
		return state(bindings.BindValue(st, idx, val))
	}
	return state(bindings.BindTimestamp(st, idx, bindings.NewTimestamp(toMicros(v, dt.Unit))))
}

func toMicros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		return floorDiv(v, 1_000)
	}
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func state(s bindings.State) error {
	if s == bindings.StateError {
		return fmt.Errorf("DuckDB refused the value")
	}
	return nil
}
