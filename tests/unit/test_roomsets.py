from rtchat.roomsets import SMALL, RoomSet, with_room, without_room


def test_a_few_rooms_are_a_tuple_and_many_a_set() -> None:
    rooms: RoomSet = ()
    for i in range(SMALL):
        rooms = with_room(rooms, f"r{i}")
        rooms = with_room(rooms, f"r{i}")  # entering twice changes nothing
    assert rooms == tuple(f"r{i}" for i in range(SMALL))
    rooms = with_room(rooms, "more")
    assert rooms == {*(f"r{i}" for i in range(SMALL)), "more"}
    assert isinstance(rooms, set)
    assert with_room(rooms, "more") is rooms


def test_leaving_takes_out_only_that_room() -> None:
    assert without_room(("a", "b", "c"), "b") == ("a", "c")
    assert without_room(("a",), "x") == ("a",)
    assert without_room(("a",), "a") == ()
    many = set("abcdefghij")
    assert without_room(many, "a") == set("bcdefghij")
    assert without_room(set(), "a") == set()
