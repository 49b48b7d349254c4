"""Course authority over the LIS role vocabulary: only context roles count."""

import pytest

from lti.roles import CourseRole, context_roles, course_role, is_teaching_assistant

M = "http://purl.imsglobal.org/vocab/lis/v2/membership"
INST = "http://purl.imsglobal.org/vocab/lis/v2/institution/person"
SYS = "http://purl.imsglobal.org/vocab/lis/v2/system/person"

CASES = [
    # context roles, full URIs
    ([f"{M}#Instructor"], CourseRole.INSTRUCTOR),
    ([f"{M}#Administrator"], CourseRole.INSTRUCTOR),
    ([f"{M}#ContentDeveloper"], CourseRole.INSTRUCTOR),
    ([f"{M}#Learner"], CourseRole.LEARNER),
    ([f"{M}#Mentor"], CourseRole.OTHER),
    ([f"{M}#Member"], CourseRole.OTHER),
    ([f"{M}#Manager"], CourseRole.OTHER),
    ([f"{M}#Officer"], CourseRole.OTHER),
    # sub-roles take their principal
    ([f"{M}/Instructor#TeachingAssistant"], CourseRole.INSTRUCTOR),
    ([f"{M}/Instructor#Lecturer"], CourseRole.INSTRUCTOR),
    ([f"{M}/Learner#NonCreditLearner"], CourseRole.LEARNER),
    ([f"{M}/Learner#Instructor"], CourseRole.LEARNER),  # a learner who tutors peers
    ([f"{M}/Mentor#Advisor"], CourseRole.OTHER),
    # simple names, allowed for context roles only
    (["Instructor"], CourseRole.INSTRUCTOR),
    (["Learner"], CourseRole.LEARNER),
    (["Administrator"], CourseRole.INSTRUCTOR),
    # institution and system roles grant nothing in the course (the reported attack)
    ([f"{INST}#Instructor"], CourseRole.OTHER),
    ([f"{SYS}#Administrator"], CourseRole.OTHER),
    ([f"{M}#Learner", f"{INST}#Instructor"], CourseRole.LEARNER),
    ([f"{M}#Learner", f"{SYS}#Administrator", f"{INST}#Administrator"], CourseRole.LEARNER),
    # look-alikes that merely end the same way
    (["http://evil.example/membership#Instructor"], CourseRole.OTHER),
    ([f"{M}#InstructorX"], CourseRole.OTHER),
    ([f"{M}/Instructor#"], CourseRole.OTHER),
    ([f"{M}/Nobody#Instructor"], CourseRole.OTHER),
    (["urn:lti:instrole:ims/lis/Instructor"], CourseRole.OTHER),
    (["TeachingAssistant"], CourseRole.OTHER),
    ([], CourseRole.OTHER),
    # staff wins over learner when both are present
    ([f"{M}#Learner", f"{M}#Instructor"], CourseRole.INSTRUCTOR),
]


@pytest.mark.parametrize("roles,expected", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_course_role_comes_from_context_roles_only(roles, expected):
    assert course_role(roles) is expected


def test_context_roles_keeps_only_context_roles_once_in_order():
    roles = [f"{INST}#Instructor", f"{M}#Learner", "Learner", f"{M}#Learner", f"{SYS}#User"]
    assert context_roles(roles) == [f"{M}#Learner", "Learner"]


def test_teaching_assistant_is_recognised_by_its_sub_role():
    assert is_teaching_assistant([f"{M}/Instructor#TeachingAssistant"])
    assert not is_teaching_assistant([f"{M}#Instructor"])
